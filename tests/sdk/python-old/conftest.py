"""Harness for the supertokens-python 0.24.4 tests (issue 21: an SDK of CDI 3.0). Run with the
0.24.4 package first on PYTHONPATH (README.md); the session refuses to run any other version.

It reuses the server start-up of `../python/conftest.py` (one Portcullis per session, the backend
from PORTCULLIS_BACKEND, a fresh app), loaded as a plain module so that none of its fixtures, which
are written for 0.31.4, apply here; and it initialises 0.24.4 against the app.
"""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "portcullis_sdk_python_harness", Path(__file__).resolve().parent.parent / "python" / "conftest.py"
)
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

# The session-scoped server of the main harness, under this directory's name.
portcullis = harness.portcullis


@pytest.fixture(scope="session", autouse=True)
def sdk(portcullis):
    """A fresh app and supertokens-python 0.24.4 initialised against it, once per session."""
    from supertokens_python.recipe import emailpassword, multitenancy, session
    from supertokens_python.constants import VERSION

    assert VERSION == "0.24.4", f"supertokens-python {VERSION} imported: put 0.24.4 first on PYTHONPATH (README.md)"

    app_id = harness.create_app(portcullis)
    harness.init_with_recipes(
        portcullis,
        app_id,
        [multitenancy.init(), emailpassword.init(), session.init(anti_csrf="VIA_TOKEN")],
    )
    return app_id


@pytest.fixture
def core_calls(monkeypatch):
    """The core requests the SDK makes during one test: `(method, path, body or params, reply)`."""
    from supertokens_python.querier import Querier

    calls = []

    def recording(method, original):
        async def send(self, path, data, *args, **kwargs):
            reply = await original(self, path, data, *args, **kwargs)
            body = {k: v for k, v in reply.items() if k != "_headers"}
            calls.append((method, path.get_as_string_dangerous(), data, body))
            return reply

        return send

    for method, name in (
        ("GET", "send_get_request"),
        ("POST", "send_post_request"),
        ("PUT", "send_put_request"),
        ("DELETE", "send_delete_request"),
    ):
        monkeypatch.setattr(Querier, name, recording(method, getattr(Querier, name)))
    return calls


@pytest.fixture(autouse=True)
def _server_log_offset(request, portcullis):
    request.node._portcullis = (portcullis, portcullis.log_size())
    yield


pytest_runtest_makereport = harness.pytest_runtest_makereport
