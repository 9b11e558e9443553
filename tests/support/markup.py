"""What every HTML page of the app must be, read the way a browser reads it
(html5lib implements the WHATWG parsing algorithm): a well-formed document
whose `<title>` is plain text, with nothing before `<body>` but the head,
unique ids, a label for every form control, and a field's help text tied to
its control (aria-describedby)."""

from __future__ import annotations

from xml.etree.ElementTree import Element

import html5lib

# What may sit in <head>; anything else there means markup leaked into it.
HEAD_ELEMENTS = {"meta", "title", "link", "script", "style", "base", "noscript", "template"}
# Inputs that are labelled by their own value or need no label.
UNLABELLED_INPUTS = {"hidden", "submit", "button", "image", "reset"}


def problems(html: str) -> list[str]:
    """Every way the page falls short, or [] for a sound page."""
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    document = parser.parse(html)
    found = [
        f"parse error at line {line}, column {column}: {code} {data or ''}".rstrip()
        for (line, column), code, data in parser.errors
    ]
    head, body = document.find("head"), document.find("body")
    assert head is not None and body is not None  # html5lib always makes both
    found += _title_problems(head)
    found += [f"<{child.tag}> inside <head>" for child in head if child.tag not in HEAD_ELEMENTS]
    found += _id_problems(document)
    found += _label_problems(document)
    found += _description_problems(document)
    return found


def _title_problems(head: Element) -> list[str]:
    titles = head.findall("title")
    if len(titles) != 1:
        return [f"{len(titles)} <title> elements in <head>"]
    text = (titles[0].text or "").strip()
    if not text:
        return ["an empty <title>"]
    if "<" in text or ">" in text:
        return [f"markup inside <title>: {text[:80]!r}"]
    return []


def _id_problems(document: Element) -> list[str]:
    seen: set[str] = set()
    duplicates = []
    for element in document.iter():
        element_id = element.get("id")
        if element_id is None:
            continue
        if element_id in seen:
            duplicates.append(f'id="{element_id}" used more than once')
        seen.add(element_id)
    return duplicates


def _label_problems(document: Element) -> list[str]:
    ids = {element.get("id") for element in document.iter() if element.get("id")}
    labelled_ids = {label.get("for") for label in document.iter("label") if label.get("for")}
    inside_label: set[int] = set()
    for label in document.iter("label"):
        inside_label.update(id(element) for element in label.iter())
    found = []
    for control in document.iter():
        if control.tag not in ("input", "select", "textarea"):
            continue
        if control.tag == "input" and control.get("type", "text").lower() in UNLABELLED_INPUTS:
            continue
        if (control.get("aria-label") or "").strip() or (control.get("title") or "").strip():
            continue
        labelledby = (control.get("aria-labelledby") or "").split()
        if labelledby and all(name in ids for name in labelledby):
            continue
        if control.get("id") in labelled_ids or id(control) in inside_label:
            continue
        name = control.get("name") or control.get("id") or "?"
        found.append(f"<{control.tag} name={name!r}> has no label")
    return found


def _description_problems(document: Element) -> list[str]:
    ids = {element.get("id") for element in document.iter() if element.get("id")}
    found = []
    for element in document.iter():
        for name in (element.get("aria-describedby") or "").split():
            if name not in ids:
                found.append(f'<{element.tag}> aria-describedby="{name}": no such id')
    for field in document.iter("div"):
        if "field" not in (field.get("class") or "").split():
            continue
        controls = [c for c in field.iter() if c.tag in ("input", "select", "textarea")]
        described = {n for c in controls for n in (c.get("aria-describedby") or "").split()}
        for help_text in field.iter("p"):
            if "help" in (help_text.get("class") or "").split() and controls:
                if help_text.get("id") is None or help_text.get("id") not in described:
                    found.append(f"help text {(help_text.text or '')[:40]!r} tied to no control")
    return found
