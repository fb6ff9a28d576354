"""Shared fixtures and checks for the converter tests (test_remap_aepx/text/scan/cli)."""
from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parents[1]
MAKE_AEPX = REPO.parent / "shared" / "tools" / "make_aepx.py"

# destinations are Linux paths, as on a Linux render node
RULE_PAIRS = [
    "D:\\Projects=/mnt/projects",
    "\\\\fileserver\\projects=/mnt/fs/projects",
    "\\\\fileserver\\renders=/mnt/fs/renders",
    "P:\\=/mnt/p",
    "/Volumes/projects=/mnt/vol",
    "/Users/artist=/home/artist",
]

# A hand-written project exercising every place a path lives and every byte-level trap: CRLF line endings, a
# comment and a CDATA section holding fake references, single-quoted attributes, entities, non-ASCII, a sequence
# folder, a render output, expressions (JS-escaped inside XML-escaped), a hex <expr> chunk and a text layer's btdk.
EXPR_HEX = ('$.evalFile("P:/JOB/old.jsx")'.encode("utf-8") + b"\0").hex()
BTDK_HEX = (b"<< /0 << /1 (\xfe\xff" + "/Volumes/projects/titles.txt".encode("utf-16-be") + b") >> >>").hex()
FIXTURE = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    '<AfterEffectsProject xmlns="http://www.adobe.com/products/aftereffects" majorVersion="1" minorVersion="0">\r\n'
    '\t<!-- <Pin><Als2><fileReference fullpath="P:\\comment\\x.png" platform="Win"/></Als2></Pin> -->\r\n'
    '\t<ProjectXMPMetadata><![CDATA[<Pin><fileReference fullpath="P:\\cdata\\x.png"/></Pin>]]></ProjectXMPMetadata>\r\n'
    '\t<Fold>\r\n'
    '\t\t<Item><Pin><Als2>\r\n'
    '\t\t\t<fileReference ascendcount_base="1" ascendcount_target="3" fullpath="P:\\JOB\\audio &amp; music\\a.wav" '
    'platform="Win" server_name="ws-01" server_volume_name="HDD" target_is_folder="0"/>\r\n'
    '\t\t</Als2></Pin></Item>\r\n'
    '\t\t<Item><Pin><Als2>\r\n'
    "\t\t\t<fileReference fullpath='/Users/artist/Ünïcode Director&apos;s Cut/b.mov' platform='MacPOSIX' "
    "target_is_folder='0'/>\r\n"
    '\t\t</Als2></Pin></Item>\r\n'
    '\t\t<Item><Pin><Als2>\r\n'
    '\t\t\t<fileReference fullpath="\\\\fileserver\\projects\\JOB\\plates\\sh010" platform="Win" '
    'target_is_folder="1"/>\r\n'
    '\t\t</Als2></Pin></Item>\r\n'
    '\t\t<Item><Pin><Als2>\r\n'
    '\t\t\t<fileReference fullpath="relative\\c.png" platform="Win" target_is_folder="0"/>\r\n'
    '\t\t\t<fileReference fullpath="Q:\\unmapped\\d.png" platform="Win" target_is_folder="0"/>\r\n'
    '\t\t</Als2></Pin></Item>\r\n'
    '\t\t<Item><Als2><fileReference fullpath="P:\\not_under_pin.png" platform="Win"/></Als2></Item>\r\n'
    '\t\t<Item><Layr><tdgp>\r\n'
    '\t\t\t<tdbs><tdb4 bdata="00"/><cdat bdata="0000"/><string>$.evalFile(&quot;P:/JOB/scripts\\\\cap.jsx&quot;);'
    " var s = 'D:\\\\Projects\\\\x.png'; value</string></tdbs>\r\n"
    '\t\t\t<tdbs><tdb4 bdata="00"/><cdat bdata="0000"/>\r\n\t\t\t\t<string>"/Volumes/projects/a b.txt"</string>'
    '</tdbs>\r\n'
    '\t\t\t<tdbs><tdsn><string>P:\\not\\an\\expression</string></tdsn></tdbs>\r\n'
    f'\t\t\t<tdbs><expr bdata="{EXPR_HEX}"/></tdbs>\r\n'
    f'\t\t\t<btdk bdata="{BTDK_HEX}"/>\r\n'
    '\t\t</tdgp></Layr></Item>\r\n'
    '\t</Fold>\r\n'
    '\t<LRdr><LItm><LOm><Als2>\r\n'
    '\t\t<fileReference ascendcount_base="1" ascendcount_target="1" fullpath="\\\\fileserver\\renders\\JOB\\MAIN" '
    'platform="Win" server_name="fileserver" server_volume_name="renders" target_is_folder="1"/>\r\n'
    '\t</Als2><string>Lossless</string><string>[compName]_[#####].png</string></LOm></LItm></LRdr>\r\n'
    '</AfterEffectsProject>\r\n'
)

_ATTR_VALUE = re.compile(rb"""\b(fullpath|platform)\s*=\s*("[^"]*"|'[^']*')""")
_EXPRESSION = re.compile(rb"(<cdat\b[^>]*/>\s*<string>)([^<]*)(</string>)")


def masked(data: bytes) -> bytes:
    """The bytes with fileReference path/platform values and expression texts blanked: what must not change."""
    data = _ATTR_VALUE.sub(lambda m: m.group(1) + b"=" + m.group(2)[:1] + b"#" + m.group(2)[:1], data)
    return _EXPRESSION.sub(lambda m: m.group(1) + b"#" + m.group(3), data)


def parse_safely(data: bytes) -> "etree._Element":
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)
    return etree.fromstring(data, parser)


def file_references(root) -> list:
    """(ancestor kind, fullpath, platform) of every fileReference under Pin or LOm, in document order."""
    out = []
    for el in root.iter("{*}fileReference"):
        kinds = [a.tag.split("}")[-1] for a in el.iterancestors()]
        kind = "Pin" if "Pin" in kinds else "LOm" if "LOm" in kinds else None
        out.append((kind, el.get("fullpath"), el.get("platform")))
    return out


def expressions(root) -> list:
    """Texts of the <string> right after a <cdat> (the expression convention)."""
    out = []
    for cdat in root.iter("{*}cdat"):
        nxt = cdat.getnext()
        if nxt is not None and nxt.tag.split("}")[-1] == "string":
            out.append(nxt.text or "")
    return out
