"""A real Synapse homeserver on loopback, protected by bulkguard (``bulkguard.integrations.synapse.testbed``).

Tests here are marked ``slow`` and ``synapse`` and skip, saying why, when the ``synapse``
extra is not installed. Run them alone with ``make test-synapse``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bulkguard.integrations.synapse.testbed import Testbed

MISSING = [m for m in ("synapse", "synapse_http_antispam", "nio") if importlib.util.find_spec(m) is None]
NEED_EXTRA = pytest.mark.skipif(
    bool(MISSING), reason=f"the `synapse` extra is not installed (missing {', '.join(MISSING)}): "
                          "pip install -e '.[synapse]' or run `make test-synapse`")


@pytest.fixture(scope="module")
def synapse_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    """A fresh homeserver and bulkguard's antispam router, shared by one test module."""
    from bulkguard.integrations.synapse.testbed import testbed

    with testbed(tmp_path_factory.mktemp("synapse")) as tb:
        yield tb
