"""Other projects' configs into easymtl's: one converter per source format.

Compatibility lives at the edge: a config in another format is converted into
easymtl's PipelineConfig once, at loading (:func:`source_format` tells config.py which
format a file is in), and nothing past loading knows where it came from. The same
conversion is a command (``python -m easymtl.convert --from easyrec X.config --output
Y.config``) that writes the converted config with a comment for each source field.
"""

from __future__ import annotations

import os

from easymtl.errors import EasymtlError

# Source formats: name → the module whose `convert(text, path)` converts it.
SOURCES = {"easyrec": "easymtl.convert.easyrec"}


def source_format(text: str, path: str) -> str:
    """The format of protobuf text config `text` (from `path`): "easyrec", or "easymtl"
    (easymtl's and TorchEasyRec's PipelineConfig, also for text that does not parse:
    its own parser then names the error).

    Raises:
        EasymtlError: the file parses but its fields are neither format's.
    """
    from easymtl.convert.easyrec import is_easyrec
    from easymtl.convert.textproto import parse
    from easymtl.protos import pipeline_pb2

    try:
        nodes = parse(text, path)
    except EasymtlError:
        return "easymtl"
    easyrec, own = _marker(nodes, _EASYREC), _marker(nodes, _easymtl_markers())
    if easyrec and own:
        raise EasymtlError(
            f"{path}:{easyrec[1]}: {easyrec[0]} is EasyRec's but {own[0]} (line {own[1]}) is "
            "easymtl's / TorchEasyRec's: write the config in one format (python -m "
            "easymtl.convert --from easyrec converts an EasyRec config)"
        )
    if is_easyrec(nodes):
        return "easyrec"
    known = set(pipeline_pb2.PipelineConfig.DESCRIPTOR.fields_by_name)
    if not nodes or any(n.name in known for n in nodes):
        return "easymtl"
    names = ", ".join(dict.fromkeys(n.name for n in nodes[:3]))
    raise EasymtlError(
        f"{path}:{nodes[0].line}: not a pipeline config: its fields ({names}) are neither "
        "easymtl's / TorchEasyRec's (model_config, data_config, feature_configs, ...) nor "
        "EasyRec's (model_config.model_class, feature_config, data_config.input_type, ...)"
    )


_EASYREC = {
    "model_config": {"model_class"},
    "data_config": {"input_type", "separator"},
    "train_config": {"optimizer_config"},
    "feature_configs": {"feature_type", "input_names"},
}


def _easymtl_markers() -> dict[str, set[str]]:
    """Fields of easymtl's sections that EasyRec's same-named sections do not have."""
    from easymtl.protos import feature_pb2

    return {
        "feature_configs": set(feature_pb2.FeatureConfig.DESCRIPTOR.fields_by_name),
        "data_config": {"dataset_type", "delimiter"},
        "train_config": {"sparse_optimizer", "dense_optimizer"},
    }


def _marker(nodes, markers: dict[str, set[str]]) -> tuple[str, int] | None:
    """The first ``(section.field, line)`` of `nodes` among `markers`, or None."""
    for node in nodes:
        for child in node.fields or []:
            if child.name in markers.get(node.name, ()):
                return f"{node.name}.{child.name}", child.line
    return None


def convert_file(path: str, source: str, validate=None):
    """Converts the config at `path` from format `source` (a key of SOURCES); returns
    the converter's Conversion, validated by `validate` (see the converters' `convert`).

    Raises:
        EasymtlError: the file is missing or a field cannot be converted.
    """
    import importlib

    if not os.path.isfile(path):
        raise EasymtlError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return importlib.import_module(SOURCES[source]).convert(text, path, validate)
