"""Shared harness for the supertokens-python tests.

One Portcullis process serves the whole pytest session:
  1. `portcullis start --host 127.0.0.1 --port <free port> --test-mode` is started,
     with the backend chosen by PORTCULLIS_BACKEND (sqlite or postgres);
  2. we wait for `GET /hello` to answer 200;
  3. a fresh app is created with a raw `PUT /recipe/multitenancy/app/v2`;
  4. `supertokens_python.init` points at `http://127.0.0.1:<port>/appid-<id>`.
The process is stopped with SIGTERM when the session ends.

With PORTCULLIS_URL set (e.g. the balancer of scripts/cluster.sh), no process is started: the
apps are created on that core, which must run with --test-mode as the started one does. Its
output is not available then (failure reports say so).

`supertokens_python.init` is process-wide, so isolation is one app per session plus a
unique tenant id per test (`unique_id()`). A test that needs other session options or an
app with its own core config asks for the `sdk_with` fixture: it resets the SDK (the
recipes' own `reset()` functions, as supertokens-python's tests do), initialises it again
for that test, and restores the session-wide configuration afterwards. When a test fails,
the server output written while it ran is attached to the failure report.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
PORTCULLIS_BIN = os.environ.get(
    "PORTCULLIS_BIN", str(REPO_ROOT / "target" / "debug" / "portcullis")
)
BACKEND = os.environ.get("PORTCULLIS_BACKEND", "sqlite")
EXTERNAL_URL = os.environ.get("PORTCULLIS_URL", "").rstrip("/") or None
STARTUP_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
API_DOMAIN = "http://localhost:3001"


def unique_id(prefix: str = "t") -> str:
    """A tenant id no other test uses: `<prefix>-<8 hex chars>`."""
    return f"{prefix}-{secrets.token_hex(4)}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend_env(data_dir: Path) -> dict:
    """Environment of the child process for the chosen backend."""
    env = dict(os.environ)
    for key in (
        "PORTCULLIS_SQLITE_PATH",
        "POSTGRESQL_CONNECTION_URI",
        "POSTGRESQL_TABLE_SCHEMA",
    ):
        env.pop(key, None)

    if BACKEND == "sqlite":
        env["PORTCULLIS_SQLITE_PATH"] = str(data_dir / "portcullis.db")
    elif BACKEND == "postgres":
        uri = os.environ.get("PORTCULLIS_TEST_PG_URI")
        if not uri:
            raise RuntimeError(
                "PORTCULLIS_BACKEND=postgres needs PORTCULLIS_TEST_PG_URI "
                "(e.g. postgresql://postgres@127.0.0.1:5433/postgres)"
            )
        env["POSTGRESQL_CONNECTION_URI"] = uri
        # A fresh schema per session keeps runs apart. It is left behind.
        env["POSTGRESQL_TABLE_SCHEMA"] = f"t_{secrets.token_hex(6)}"
    else:
        raise RuntimeError(
            f"unknown PORTCULLIS_BACKEND '{BACKEND}' (expected sqlite or postgres)"
        )
    return env


def http(method: str, url: str, body=None):
    """A raw request; returns (status, text). Used only outside the SDK."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def core_post(path: str, body: dict) -> dict:
    """A POST through the SDK's querier (so with its `cdi-version` and `rid` headers) to a
    core path of the app the SDK is initialised for; returns the reply without `_headers`.
    For checking the core's own answer where the SDK would decide locally."""
    from supertokens_python.async_to_sync_wrapper import sync
    from supertokens_python.normalised_url_path import NormalisedURLPath
    from supertokens_python.querier import Querier

    reply = sync(
        Querier.get_instance().send_post_request(NormalisedURLPath(path), body, {})
    )
    return {k: v for k, v in reply.items() if k != "_headers"}


class Server:
    def __init__(self, url: str, log_path):
        self.url = url
        self.log_path = log_path

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path else 0

    def log_since(self, offset: int) -> str:
        if self.log_path is None:
            return f"(the output of {self.url} is not available here)"
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")


def wait_for_hello(proc: subprocess.Popen, url: str) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            status, _ = http("GET", f"{url}/hello")
            if status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture(scope="session")
def portcullis(tmp_path_factory):
    if EXTERNAL_URL:
        yield Server(EXTERNAL_URL, None)
        return
    if not os.path.isfile(PORTCULLIS_BIN):
        raise RuntimeError(f"portcullis binary not found at {PORTCULLIS_BIN} (set PORTCULLIS_BIN)")

    data_dir = tmp_path_factory.mktemp("portcullis")
    env = backend_env(data_dir)
    log_path = data_dir / "portcullis.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [PORTCULLIS_BIN, "start", "--host", "127.0.0.1", "--port", str(port), "--test-mode"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(url, log_path)
    try:
        if not wait_for_hello(proc, url):
            raise RuntimeError(
                f"portcullis did not answer GET {url}/hello with 200 within "
                f"{STARTUP_TIMEOUT_S}s (exit code {proc.poll()}). Its output:\n"
                + server.log_since(0)
            )
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def create_app(server: Server, core_config=None) -> str:
    """Creates a new app with a raw `PUT /recipe/multitenancy/app/v2`; returns its id."""
    app_id = str(uuid.uuid4())
    status, text = http(
        "PUT",
        f"{server.url}/recipe/multitenancy/app/v2",
        {"appId": app_id, "coreConfig": core_config or {}},
    )
    assert status == 200, f"app creation answered {status}: {text}"
    assert json.loads(text) == {"status": "OK", "createdNew": True}, text
    return app_id


def init_with_recipes(server: Server, app_id: str, recipe_list) -> None:
    """`supertokens_python.init` against `<server>/appid-<app_id>` with these recipes."""
    from supertokens_python import InputAppInfo, SupertokensConfig, init

    init(
        app_info=InputAppInfo(
            app_name="portcullis-sdk-python-tests",
            api_domain=API_DOMAIN,
            website_domain="http://localhost:3000",
        ),
        supertokens_config=SupertokensConfig(
            connection_uri=f"{server.url}/appid-{app_id}"
        ),
        # Nothing here serves HTTP, so no web framework is installed: the SDK only
        # imports the framework's adapter when its middleware is used.
        framework="fastapi",
        mode="asgi",
        telemetry=False,
        recipe_list=recipe_list,
    )


def init_sdk(server: Server, app_id: str, **session_options) -> None:
    """The tests' usual SDK: every sign-in recipe, with `session_options` passed to
    `session.init`."""
    from supertokens_python.recipe import (
        emailpassword,
        multitenancy,
        passwordless,
        session,
        thirdparty,
    )
    from supertokens_python.recipe.passwordless import ContactEmailOrPhoneConfig

    init_with_recipes(
        server,
        app_id,
        [
            multitenancy.init(),
            emailpassword.init(),
            thirdparty.init(),
            passwordless.init(
                contact_config=ContactEmailOrPhoneConfig(),
                flow_type="USER_INPUT_CODE_AND_MAGIC_LINK",
            ),
            session.init(**session_options),
        ],
    )


def reset_recipes(*recipes) -> None:
    """Calls `reset()` on recipe classes the default init does not create (their `reset()` runs
    only with SUPERTOKENS_ENV=testing, set just for the call)."""
    before = os.environ.get("SUPERTOKENS_ENV")
    os.environ["SUPERTOKENS_ENV"] = "testing"
    try:
        for recipe in recipes:
            recipe.reset()
    finally:
        if before is None:
            del os.environ["SUPERTOKENS_ENV"]
        else:
            os.environ["SUPERTOKENS_ENV"] = before


def reset_sdk() -> None:
    """Forgets the SDK's process-wide state: the instance, every recipe that init created
    (listed or added by default), the querier's cached CDI version and the session
    recipe's JWKS cache. The `reset()` functions refuse to run unless
    SUPERTOKENS_ENV=testing, which is set only while they run."""
    from supertokens_python import Supertokens
    from supertokens_python.post_init_callbacks import PostSTInitCallbacks
    from supertokens_python.process_state import ProcessState
    from supertokens_python.recipe.accountlinking.recipe import AccountLinkingRecipe
    from supertokens_python.recipe.emailpassword.recipe import EmailPasswordRecipe
    from supertokens_python.recipe.jwt.recipe import JWTRecipe
    from supertokens_python.recipe.multitenancy.recipe import MultitenancyRecipe
    from supertokens_python.recipe.oauth2provider.recipe import OAuth2ProviderRecipe
    from supertokens_python.recipe.openid.recipe import OpenIdRecipe
    from supertokens_python.recipe.passwordless.recipe import PasswordlessRecipe
    from supertokens_python.recipe.session.recipe import SessionRecipe
    from supertokens_python.recipe.thirdparty.recipe import ThirdPartyRecipe
    from supertokens_python.recipe.usermetadata.recipe import UserMetadataRecipe

    before = os.environ.get("SUPERTOKENS_ENV")
    os.environ["SUPERTOKENS_ENV"] = "testing"
    try:
        ProcessState.get_instance().reset()
        PostSTInitCallbacks.reset()
        Supertokens.reset()  # also the querier and user metadata
        for recipe in (
            SessionRecipe,  # also its JWKS cache
            EmailPasswordRecipe,
            ThirdPartyRecipe,
            PasswordlessRecipe,
            MultitenancyRecipe,
            AccountLinkingRecipe,
            JWTRecipe,
            OpenIdRecipe,
            UserMetadataRecipe,
            OAuth2ProviderRecipe,
        ):
            recipe.reset()
    finally:
        if before is None:
            del os.environ["SUPERTOKENS_ENV"]
        else:
            os.environ["SUPERTOKENS_ENV"] = before


@pytest.fixture(scope="session", autouse=True)
def sdk(portcullis):
    """Creates a fresh app and initialises the SDK against it (once per session)."""
    app_id = create_app(portcullis)
    init_sdk(portcullis, app_id)
    return app_id


@pytest.fixture
def sdk_with(portcullis, sdk):
    """`sdk_with(core_config=None, **session_options) -> app_id` re-initialises the SDK for
    one test: against a new app created with `core_config` when one is given (else the
    session's app), with `session_options` passed to `session.init`. The session-wide
    configuration is restored when the test ends."""
    changed = False

    def configure(core_config=None, **session_options) -> str:
        nonlocal changed
        app_id = sdk if core_config is None else create_app(portcullis, core_config)
        changed = True
        reset_sdk()
        init_sdk(portcullis, app_id, **session_options)
        return app_id

    yield configure
    if changed:
        reset_sdk()
        init_sdk(portcullis, sdk)


@pytest.fixture
def core_calls(monkeypatch):
    """Records the core requests the SDK makes during one test, as
    `(method, path, body or query params, reply)` tuples. `path` has no `/appid-<id>`
    prefix (e.g. `/public/recipe/session`); `reply` leaves out the `_headers` the querier
    adds. Requests that raised are not recorded.
    The JWKS fetch of local token verification does not go through the querier."""
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    server_and_offset = getattr(item, "_portcullis", None)
    if report.failed and server_and_offset is not None:
        server, offset = server_and_offset
        text = server.log_since(offset)
        report.sections.append(
            ("portcullis output during this test", text or "(nothing)")
        )
