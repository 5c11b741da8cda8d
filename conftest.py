"""Collection rules for the whole tree (tests/ and the doctests of src/).

The Synapse testbed and its scenario need the ``synapse`` extra (Synapse, matrix-nio); without
it their modules are not collected for doctests, and the tests that use them skip with the
reason (tests/integration/conftest.py).
"""

import importlib.util

collect_ignore: list[str] = []
if importlib.util.find_spec("nio") is None or importlib.util.find_spec("synapse") is None:
    collect_ignore += ["src/bulkguard/integrations/synapse/testbed.py",
                       "src/bulkguard/integrations/synapse/scenario.py",
                       "src/bulkguard/integrations/synapse/demo.py"]
