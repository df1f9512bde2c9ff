"""The catch-all route serves the editor's index.html for browser routes and leaves server paths alone."""

import pytest

INDEX = (
    "<!doctype html><html><body><div id=root></div><script src=/static/assets/app.js></script></body></html>"
)


@pytest.fixture
def dist(tmp_path, settings):
    settings.FRONTEND_DIST = tmp_path
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/workflows/new", "/workflows/42", "/a/b/c?x=1"])
def test_browser_routes_get_index_html(client, dist, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert response.content.decode() == INDEX
    assert response["Cache-Control"] == "no-cache"
    assert "csrftoken" in response.cookies


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/nope", 404),
        ("/api/", 404),
        ("/ws/runs/1", 404),
        ("/comfy/prompt", 401),
        ("/static/missing.js", 404),
    ],
)
def test_server_prefixes_are_not_the_spa(client, dist, path, status):
    response = client.get(path)
    assert response.status_code == status  # the ComfyUI API asks for a token before anything else
    assert INDEX not in response.content.decode(errors="replace")


def test_admin_is_not_the_spa(client, dist):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_names_that_only_start_like_a_prefix_are_browser_routes(client, dist):
    assert client.get("/apis").content.decode() == INDEX
    assert client.get("/static-pages").content.decode() == INDEX


def test_placeholder_when_the_build_is_missing(client, tmp_path, settings):
    settings.FRONTEND_DIST = tmp_path / "absent"
    response = client.get("/workflows/3")
    assert response.status_code == 200
    assert "not built yet" in response.content.decode()


def test_a_build_made_after_startup_is_served(client, tmp_path, settings):
    settings.FRONTEND_DIST = tmp_path
    assert "not built yet" in client.get("/").content.decode()
    (tmp_path / "index.html").write_text(INDEX, encoding="utf-8")
    assert client.get("/").content.decode() == INDEX


def test_health_still_answers(client, db):
    assert client.get("/api/health").json()["status"] == "ok"
