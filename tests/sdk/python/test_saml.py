"""SAML through supertokens_python's `saml` recipe and its `saml` third-party provider, with the
signing test IdP of saml_idp.py (signxml + lxml): a client from the IdP's metadata, a login whose
real AuthnRequest the IdP reads (and whose signature it checks against the SP metadata's
certificate), the IdP's signed response through the callback, the code exchanged by the provider
for the user, and a third-party user signed in with it. Then every forgery of issue 25 through
the same callback, each refused with the core's status, and the replays."""

from urllib.parse import parse_qs, urlparse
import urllib.request

import pytest

import saml_idp
from conftest import init_sdk, init_with_recipes, reset_recipes, reset_sdk, unique_id

CLIENT_ID = "saml-sdk-client"
REDIRECT = "http://localhost:3000/auth/callback/saml-test"
ACS = "http://localhost:3001/auth/public/saml/callback"


def _reset_saml() -> None:
    from supertokens_python.recipe.saml.recipe import SAMLRecipe

    reset_recipes(SAMLRecipe)


@pytest.fixture(scope="module", autouse=True)
def sdk_with_saml(portcullis, sdk):
    from supertokens_python.recipe import saml, session, thirdparty
    from supertokens_python.recipe.thirdparty.provider import ProviderClientConfig, ProviderConfig, ProviderInput

    reset_sdk()
    _reset_saml()
    provider = ProviderInput(config=ProviderConfig(third_party_id="saml-test", clients=[ProviderClientConfig(client_id=CLIENT_ID)]))
    init_with_recipes(
        portcullis,
        sdk,
        [session.init(), thirdparty.init(sign_in_and_up_feature=thirdparty.SignInAndUpFeature(providers=[provider])), saml.init()],
    )
    yield portcullis, sdk
    reset_sdk()
    _reset_saml()
    init_sdk(portcullis, sdk)


@pytest.fixture(scope="module")
def idp(sdk_with_saml):
    from supertokens_python.recipe.saml.syncio import create_or_update_client
    from supertokens_python.recipe.saml.types import CreateOrUpdateClientOkResult

    the_idp = saml_idp.Idp(entity_id=f"https://idp.test/{unique_id('e')}")
    made = create_or_update_client("public", [REDIRECT], REDIRECT, the_idp.metadata_b64(), client_id=CLIENT_ID)
    assert isinstance(made, CreateOrUpdateClientOkResult)
    assert made.client.idp_entity_id == the_idp.entity_id and made.client.enable_request_signing
    return the_idp


def sp_certificate_pem(server, app_id) -> str:
    """The SP certificate from `/.well-known/sp-metadata`, as the IdP would read it."""
    with urllib.request.urlopen(f"{server.url}/appid-{app_id}/.well-known/sp-metadata") as r:
        xml = r.read().decode()
    b64 = xml.split("<ds:X509Certificate>")[1].split("</ds:X509Certificate>")[0]
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def login(state="st-1"):
    """A login as the SDK's login API makes it; the AuthnRequest as the IdP reads it."""
    from supertokens_python.recipe.saml.syncio import create_login_request
    from supertokens_python.recipe.saml.types import CreateLoginRequestOkResult

    made = create_login_request("public", CLIENT_ID, REDIRECT, ACS, state)
    assert isinstance(made, CreateLoginRequestOkResult)
    query = parse_qs(urlparse(made.redirect_uri).query)
    assert made.redirect_uri.startswith("https://idp.test/sso?SAMLRequest=")
    return query["SAMLRequest"][0], query["RelayState"][0]


def callback(response_xml: bytes, relay_state):
    from supertokens_python.recipe.saml.syncio import verify_saml_response

    return verify_saml_response("public", saml_idp.b64(response_xml), relay_state)


def test_sign_in_through_the_idp_and_the_saml_provider(sdk_with_saml, idp):
    from supertokens_python.recipe.saml.syncio import get_user_info
    from supertokens_python.recipe.saml.types import (
        GetUserInfoInvalidTokenError,
        VerifySAMLResponseInvalidRelayStateError,
        VerifySAMLResponseOkResult,
    )
    from supertokens_python.recipe.thirdparty.interfaces import ManuallyCreateOrUpdateUserOkResult
    from supertokens_python.recipe.thirdparty.syncio import get_provider, manually_create_or_update_user
    from supertokens_python.syncio import get_user

    server, app_id = sdk_with_saml
    saml_request, relay_state = login()
    request = saml_idp.read_authn_request(saml_request, sp_cert_pem=sp_certificate_pem(server, app_id))
    assert (request["acs_url"], request["issuer"], request["signed"]) == (ACS, "https://saml.supertokens.com", True)

    email = f"{unique_id('u')}@example.com"
    response = idp.response(in_response_to=request["id"], acs_url=ACS, name_id=email, attributes={"groups": ["a", "b"]})
    done = callback(saml_idp.serialize(response), relay_state)
    assert isinstance(done, VerifySAMLResponseOkResult), done
    params = parse_qs(urlparse(done.redirect_uri).query)
    assert done.redirect_uri.startswith(REDIRECT + "?") and params["state"] == ["st-1"]
    code = params["code"][0]

    # Replaying the response is refused: the relay state was consumed.
    again = callback(saml_idp.serialize(response), relay_state)
    assert isinstance(again, VerifySAMLResponseInvalidRelayStateError)

    # The provider exchanges the code (the SDK's sign-in-up passes it as the access token).
    provider = get_provider("public", "saml-test")
    assert provider is not None
    from supertokens_python.async_to_sync_wrapper import sync

    info = sync(provider.get_user_info({"access_token": code, "_tenant_id": "public"}, {}))
    assert info.third_party_user_id == email
    assert info.email is not None and info.email.id == email and info.email.is_verified
    assert info.raw_user_info_from_provider.from_user_info_api["groups"] == ["a", "b"]
    assert isinstance(get_user_info("public", code, CLIENT_ID), GetUserInfoInvalidTokenError), "a code is used once"

    made = manually_create_or_update_user("public", "saml-test", info.third_party_user_id, info.email.id, True)
    assert isinstance(made, ManuallyCreateOrUpdateUserOkResult) and made.created_new_recipe_user
    user = get_user(made.user.id)
    assert user is not None and [(t.id, t.user_id) for t in user.third_party] == [("saml-test", email)]


@pytest.mark.parametrize(
    "kind",
    [
        "tampered_name_id",
        "xsw_advice",
        "xsw_advice_same_id",
        "xsw_extensions_response",
        "xsw_extensions_assertion",
        "unsigned_sibling",
        "other_key",
        "unsigned",
        "reference_local_file",
        "xpath_transform",
    ],
)
def test_forgeries_are_refused(sdk_with_saml, idp, kind):
    from supertokens_python.recipe.saml.types import VerifySAMLResponseOkResult, VerifySAMLResponseVerificationFailedError

    saml_request, relay_state = login()
    request = saml_idp.read_authn_request(saml_request)
    forged = saml_idp.forge(kind, idp, in_response_to=request["id"], acs_url=ACS)
    assert isinstance(callback(forged, relay_state), VerifySAMLResponseVerificationFailedError), kind
    # The forgery did not burn the login: the genuine response still works.
    genuine = idp.response(in_response_to=request["id"], acs_url=ACS)
    assert isinstance(callback(saml_idp.serialize(genuine), relay_state), VerifySAMLResponseOkResult)


def test_expired_wrong_audience_and_wrong_in_response_to_are_refused(sdk_with_saml, idp):
    from supertokens_python.recipe.saml.types import VerifySAMLResponseVerificationFailedError

    saml_request, relay_state = login()
    request = saml_idp.read_authn_request(saml_request)
    two_hours_ago = saml_idp.now_ms() - 7_200_000
    cases = {
        "expired": idp.response(in_response_to=request["id"], acs_url=ACS, now=two_hours_ago),
        "wrong audience": idp.response(in_response_to=request["id"], acs_url=ACS, audience="https://other-sp.example"),
        "wrong InResponseTo": idp.response(relay_state=unique_id("rs"), acs_url=ACS),
        "wrong recipient": idp.response(in_response_to=request["id"], acs_url="http://evil.test/acs"),
    }
    for name, response in cases.items():
        assert isinstance(callback(saml_idp.serialize(response), relay_state), VerifySAMLResponseVerificationFailedError), name


def test_doctype_is_a_core_error_and_idp_initiated_login_needs_the_clients_consent(sdk_with_saml, idp):
    from supertokens_python.recipe.saml.syncio import create_or_update_client, list_clients, remove_client
    from supertokens_python.recipe.saml.types import VerifySAMLResponseIDPLoginDisallowedError, VerifySAMLResponseOkResult

    saml_request, relay_state = login()
    request = saml_idp.read_authn_request(saml_request)
    with pytest.raises(Exception, match="Invalid or malformed SAML response input"):
        callback(saml_idp.forge("doctype_internal_entity", idp, in_response_to=request["id"], acs_url=ACS), relay_state)

    unsolicited = saml_idp.serialize(idp.response())
    assert isinstance(callback(unsolicited, None), VerifySAMLResponseIDPLoginDisallowedError)
    create_or_update_client("public", [REDIRECT], REDIRECT, idp.metadata_b64(), client_id=CLIENT_ID, allow_idp_initiated_login=True)
    done = callback(unsolicited, None)
    assert isinstance(done, VerifySAMLResponseOkResult) and "state=" not in done.redirect_uri

    other = saml_idp.Idp(entity_id=f"https://idp.test/{unique_id('e')}")
    create_or_update_client("public", [REDIRECT], REDIRECT, other.metadata_b64(), client_id="saml-sdk-other")
    assert {c.client_id for c in list_clients("public").clients} >= {CLIENT_ID, "saml-sdk-other"}
    assert remove_client("public", "saml-sdk-other").did_exist
    assert not remove_client("public", "saml-sdk-other").did_exist
