from docstore_gateway.adapters.upstreams import ROUTES, is_public
from docstore_gateway.api.openapi import merge
from docstore_gateway.api.routes import bearer_token


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_first_segments_name_their_owner_and_internal_paths_none() -> None:
    assert ROUTES["documents"] == "metadata" and ROUTES["uploads"] == "upload" and ROUTES["usage"] == "quota"
    assert "internal" not in ROUTES and "healthz" not in ROUTES


def test_merged_spec_keeps_public_paths_only_and_hides_the_account_header() -> None:
    metadata_spec = {
        "paths": {
            "/documents": {"get": {"parameters": [{"name": "x-account-id", "in": "header"}, {"name": "limit"}]}},
            "/accounts": {"post": {}},
            "/internal/credentials/verify": {"post": {}},
            "/healthz": {"get": {}},
        },
        "components": {"schemas": {"DocumentOut": {}}},
    }
    spec = merge({"paths": {"/v1/sessions": {}}}, {"metadata": metadata_spec, "upload": None})
    assert set(spec["paths"]) == {"/v1/sessions", "/v1/documents", "/v1/accounts"}
    assert spec["paths"]["/v1/documents"]["get"]["parameters"] == [{"name": "limit"}]
    assert spec["paths"]["/v1/documents"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/v1/accounts"]["post"]
    assert "DocumentOut" in spec["components"]["schemas"]


def test_only_sign_up_and_the_signed_upload_landing_page_are_public() -> None:
    assert is_public("POST", "accounts")
    assert is_public("GET", "uploads/u1/done/abc123")
    assert not is_public("GET", "accounts")
    assert not is_public("GET", "uploads/u1")
    assert not is_public("POST", "uploads/u1/done/abc123")
    assert not is_public("GET", "uploads/u1/done/abc/extra")
    assert not is_public("GET", "documents")
    assert is_public("GET", "notifications/unsubscribe/t0k3n") and is_public("POST", "notifications/unsubscribe/t0k3n")
