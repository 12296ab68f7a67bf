import pytest


@pytest.mark.django_db
def test_the_browsable_api_docs_load_their_scripts_from_our_own_static_files(client):
    # Given a ward network without internet access
    # When someone opens the API docs
    response = client.get("/api/v1/docs/")

    # Then the Swagger UI comes from the platform's static files, not a CDN
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html
