"""Uploads that are web pages inside (issue 15 point 7.6): a file that reads as text or
CSV, or starts like a PDF, PNG or JPEG, but holds HTML (`<body onload=…>`, `<svg`,
`<script`, a doctype) is refused, and every evidence download is an attachment with the
type found in its content and `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import pytest
from conftest import api_token, csrf_token, log_in
from test_evidence import PDF, PNG, action, docx  # noqa: F401 (action is a fixture)

from improve.errors import Invalid
from improve.evidence import domain as evidence

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32

HTML_INSIDE = {
    "csv with body onload": b"name,score\nMAR audit,95\n<body onload=alert(1)>\n",
    "text with an img onerror": b"Notes\n<img src=x onerror=alert(1)>",
    "a doctype": b"<!DOCTYPE html>\n<p>Hello</p>",
    "svg onload": b"<svg/onload=alert(1)>",
    "upper case body": b"a,b\n1,2\n<BODY ONLOAD=alert(1)>",
    "a link to javascript": b"see <a href=javascript:alert(1)>here</a>",
    "a comment then a script": b"<!-- x --><scr" + b"ipt>alert(1)</script>",
    "an event handler on any tag": b"a,b\n<x onmouseover=alert(1)>,2\n",
    "a meta refresh": b'<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "html after 100 KB of text": b"notes\n" * 20_000 + b"<html><body>x</body></html>",
    "pdf magic": b"%PDF-1.4\n<html><body onload=alert(1)>",
    "png magic": b"\x89PNG\r\n\x1a\n<script>alert(1)</script>",
    "jpeg magic": b"\xff\xd8\xff<svg onload=alert(1)>",
}

STILL_ACCEPTED = {
    "text/csv": b"measure,value\nfalls <5 a month,3\nscore,a < b\n",
    "text/plain": b"Fewer than 5 falls: x<y and y>z, 3 <= 4. Email <manager@example.org>",
    "application/pdf": PDF,
    "image/png": PNG,
    "image/jpeg": JPEG,
}


@pytest.mark.parametrize("name", sorted(HTML_INSIDE))
def test_html_inside_any_accepted_type_is_refused(name):
    assert evidence.sniff(HTML_INSIDE[name]) is None


@pytest.mark.parametrize("kind", sorted(STILL_ACCEPTED))
def test_ordinary_files_are_still_accepted(kind):
    assert evidence.sniff(STILL_ACCEPTED[kind]) == kind


async def test_the_refusal_says_why(action):  # noqa: F811
    with pytest.raises(Invalid) as refused:
        await evidence.add(
            action["me"],
            action_id=action["action"]["id"],
            file_name="scores.csv",
            content=HTML_INSIDE["csv with body onload"],
        )
    assert "not a type we accept" in refused.value.errors["file"]


async def test_every_download_is_an_attachment_of_its_sniffed_type(client, action):  # noqa: F811
    files = {**STILL_ACCEPTED, evidence.sniff(docx()): docx()}
    await log_in(client, action["manager"])
    bearer = {"Authorization": f"Bearer {await api_token(action['manager'])}"}
    wrong = []
    for kind, content in files.items():
        row = await evidence.add(
            action["me"], action_id=action["action"]["id"], file_name="x <y>.bin", content=content
        )
        for url, served_as in (
            (f"/evidence/{row['id']}/download", kind),
            (f"/api/v1/evidence/{row['id']}/download", "application/octet-stream"),
        ):
            response = await client.get(url, headers=bearer)
            headers = response.headers
            if not (
                response.status_code == 200
                and response.content == content
                and headers["content-type"].split(";")[0] == served_as
                and headers["content-disposition"].startswith("attachment;")
                and "x%20_y_.bin" in headers["content-disposition"]  # the name made safe
                and headers["x-content-type-options"] == "nosniff"
            ):
                wrong.append((url, kind, response.status_code, dict(headers)))
    assert wrong == []


async def test_the_page_form_refuses_html_inside(client, action):  # noqa: F811
    await log_in(client, action["manager"])
    token = await csrf_token(client)
    response = await client.post(
        f"/actions/{action['action']['id']}/evidence",
        data={"_csrf_token": token},
        files={"file": ("scan.pdf", HTML_INSIDE["pdf magic"], "application/pdf")},
    )
    assert response.status_code == 400 and "not a type we accept" in response.text
