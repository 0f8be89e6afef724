#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The README's module compatibility table, from the module matrix's results.

  table.py RESULTS.json                print the table (Markdown)
  table.py RESULTS.json --update FILE  replace the table between FILE's
                                       <!-- module-matrix --> markers"""

import json
import re
import sys

ALGS = ["HS256", "ES256", "ES384", "RS256", "PS256", "EdDSA"]
NAMES = {
    "softhsm": "SoftHSMv2",
    "remote": "SoftHSMv2 behind p11-kit remote",
    "tpm2": "tpm2-pkcs11 (swtpm, tpm2-abrmd)",
    "opencryptoki": "openCryptoki soft token",
    "nss": "NSS softokn",
}
BEGIN, END = "<!-- module-matrix begin -->", "<!-- module-matrix end -->"


def cell(c):
    if c is None:
        return "?"
    r = c["result"]
    if r == "ok":
        how = c.get("provisioning", "")
        how = "import-zumo" if how == "hsmjwtctl import-zumo" else \
            "generate" if how == "hsmjwtctl generate" else \
            "derive-only + vendor import + adopt" if "derive-only" in how else how
        mech = f", {c['mechanism']}" if "mechanism" in c else ""
        return f"✓ {how}{mech}"
    if r.startswith("not offered"):
        return "— not offered"
    return "✗ " + r.split(":")[0]


def markdown(results):
    lines = ["| module | " + " | ".join(ALGS) + " |",
             "| --- |" + " --- |" * len(ALGS)]
    for res in results:
        name = NAMES.get(res["module"], res["module"])
        if "skipped" in res or "failed" in res:
            why = res.get("skipped") or "FAILED: " + res["failed"].splitlines()[0]
            lines.append(f"| {name} | " + " | ".join(["?"] * len(ALGS)) + f" |  <!-- {why} -->")
            continue
        name += f" {res['version'].split(' ', 1)[1]}"
        lines.append(f"| {name} | " + " | ".join(cell(res["cells"].get(a)) for a in ALGS) + " |")
    return "\n".join(lines) + "\n"


def main():
    with open(sys.argv[1]) as f:
        results = json.load(f)
    text = markdown(results)
    if len(sys.argv) == 4 and sys.argv[2] == "--update":
        with open(sys.argv[3]) as f:
            doc = f.read()
        new, n = re.subn(re.escape(BEGIN) + ".*?" + re.escape(END),
                         BEGIN + "\n" + text + END, doc, flags=re.S)
        if n != 1:
            sys.exit(f"{sys.argv[3]}: no {BEGIN} ... {END} markers")
        with open(sys.argv[3], "w") as f:
            f.write(new)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
