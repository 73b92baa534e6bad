"""Fixtures converting small EasyRec pipeline configs (tests/convert/easyrec_configs.py)."""

from __future__ import annotations

import pytest
from convert.easyrec_configs import easyrec_text

from easymtl.config import validate as config_validate
from easymtl.convert.easyrec import convert
from easymtl.convert.record import Refused


@pytest.fixture
def easyrec():
    """``easyrec(**parts)`` converts :func:`easyrec_text` (validated) and returns the
    Conversion."""

    def run(validate: bool = True, **parts):
        check = config_validate if validate else None
        return convert(easyrec_text(**parts), "er.config", validate=check)

    return run


@pytest.fixture
def refused():
    """``refused(**parts)``: the refusal lines of converting :func:`easyrec_text`."""

    def run(**parts) -> list[str]:
        with pytest.raises(Refused) as e:
            convert(easyrec_text(**parts), "er.config")
        return e.value.refusals

    return run
