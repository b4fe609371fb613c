from docstore_gateway.api.openapi import merge
from docstore_gateway.domain.tokens import bearer_token


def test_bearer_token_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_merged_spec_keeps_what_the_route_table_publishes_only() -> None:
    metadata_spec = {
        "paths": {
            "/documents": {"get": {"parameters": [{"name": "limit"}]}, "put": {}},  # no PUT in the table
            "/healthz": {"get": {}},
        },
        "components": {"schemas": {"DocumentOut": {}}},
    }
    accounts_spec = {"paths": {"/accounts": {"post": {}}, "/internal/credentials/verify": {"post": {}}}}
    spec = merge(
        {"paths": {"/v1/sessions": {}}}, {"metadata": metadata_spec, "accounts": accounts_spec, "upload": None}
    )
    assert set(spec["paths"]) == {"/v1/sessions", "/v1/documents", "/v1/accounts"}
    assert set(spec["paths"]["/v1/documents"]) == {"get"}
    assert spec["paths"]["/v1/documents"]["get"]["security"] == [{"bearerAuth": []}, {"appPassword": []}]
    assert "security" not in spec["paths"]["/v1/accounts"]["post"]
    assert "DocumentOut" in spec["components"]["schemas"]


def test_merged_operations_declare_the_gateways_own_refusals() -> None:
    metadata_spec = {
        "paths": {
            "/documents/{document_id}": {
                "patch": {"operationId": "change_details", "requestBody": {}, "responses": {}}
            },
        }
    }
    accounts_spec = {"paths": {"/accounts": {"post": {"operationId": "sign_up", "requestBody": {}, "responses": {}}}}}
    spec = merge({"paths": {}}, {"metadata": metadata_spec, "accounts": accounts_spec})
    private = spec["paths"]["/v1/documents/{document_id}"]["patch"]["responses"]
    public = spec["paths"]["/v1/accounts"]["post"]["responses"]
    # The sign-up route is throttled; every forwarded operation is 503 when its service is down.
    assert set(private) == {"401", "413", "503"} and set(public) == {"413", "429", "503"}
    assert private["401"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
