"""How a config field name that a message lacks is told to the user, wherever it was
written (a .config, a YAML or JSON config, a command-line override): a TorchEasyRec field
that easymtl does not support is named as such; a misspelling gets the closest names."""

from __future__ import annotations

import difflib

from google.protobuf.descriptor import Descriptor

from easymtl.torcheasyrec_fields import TORCHEASYREC_FIELDS


def unknown_field(message: Descriptor, name: str) -> str:
    """What to say of `name`, which message type `message` has no field of, e.g.
    ``TrainConfig has no field 'num_step'; did you mean num_steps? (see
    docs/config_reference.md#trainconfig)``."""
    short = message.name
    if name in TORCHEASYREC_FIELDS.get(message.full_name, ()):
        return f"{short}.{name} is a TorchEasyRec field that easymtl does not support"
    close = difflib.get_close_matches(name, list(message.fields_by_name), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"{short} has no field {name!r}{hint} (see docs/config_reference.md#{short.lower()})"
