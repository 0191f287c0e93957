"""The reverse-proxy configuration docs/operations.md gives for the public pages: read from the
document itself, checked for shape here (every block closed, every directive ended), and by
``nginx -t`` itself where nginx is installed (it is not in CI unless .ci/run installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
MARK = "<!-- nginx-public-pages -->"


def _snippet() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert MARK in text, "docs/operations.md lost its nginx configuration"
    found = re.search(r"```nginx\n(.*?)```", text[text.index(MARK):], re.DOTALL)
    assert found
    return found.group(1)


def _statements(config: str) -> list[str]:
    """The configuration without comments, one directive or block opening per item; asserts the
    braces balance and every directive ends with a semicolon."""
    code = "\n".join(line.split("#", 1)[0] if not re.search(r"\"[^\"]*#", line) else line
                     for line in config.splitlines())
    depth, items, current = 0, [], ""
    for ch in code:
        if ch in "{;}":
            if ch == "}":
                assert not current.strip(), f"directive without ';' before '}}': {current.strip()!r}"
                depth -= 1
                assert depth >= 0, "a '}' closes nothing"
            else:
                items.append(current.strip() + (" {" if ch == "{" else ";"))
                depth += ch == "{"
            current = ""
        else:
            current += ch
    assert depth == 0, "a block is not closed"
    assert not current.strip(), f"text after the last directive: {current.strip()!r}"
    return items


def test_the_documented_config_is_well_formed_and_caches_as_the_docs_say():
    items = _statements(_snippet())
    assert items.count("server {") == 1 and any(i.startswith("proxy_cache_path ") for i in items)
    text = " ".join(items)
    for needed in ("proxy_cache_revalidate on;", "proxy_cache_lock on;", "proxy_buffering off;",
                   "$cookie_wushe_lang", "proxy_set_header X-Forwarded-For $remote_addr;"):
        assert needed in text, needed
    assert "location /downloads/ {" in items  # downloads stream through, uncached


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_accepts_the_documented_config(tmp_path):
    cache = tmp_path / "cache"
    snippet = _snippet().replace("/var/cache/nginx/wushe", str(cache)).replace("listen 80;", "listen 127.0.0.1:18080;")
    temp = {name: tmp_path / name for name in ("client", "proxy", "fastcgi", "uwsgi", "scgi")}
    config = tmp_path / "nginx.conf"
    config.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\nhttp {{\n"
        f"access_log off;\nclient_body_temp_path {temp['client']};\nproxy_temp_path {temp['proxy']};\n"
        f"fastcgi_temp_path {temp['fastcgi']};\nuwsgi_temp_path {temp['uwsgi']};\nscgi_temp_path {temp['scgi']};\n"
        f"{snippet}\n}}\n", encoding="utf-8")
    done = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(config)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
