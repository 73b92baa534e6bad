"""Generated protobuf modules of the config schema (compiled from protos/ at install)."""
