"""Disclosure of generated pixels: IPTC `DigitalSourceType` in an XMP packet, in the file.

An output whose background a generator made carries
`http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia` (the
IPTC term for a composite of captured and AI-made parts, which Google Merchant Center asks
sellers to keep). JPEG carries it in an APP1 XMP segment (Pillow's `xmp=`), PNG in an iTXt
chunk keyed `XML:com.adobe.xmp`. Outputs without generated pixels carry none.
"""

from __future__ import annotations

import re
import struct
import zlib

COMPOSITE_WITH_AI = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
)
# S3 user metadata key (sent as x-amz-meta-digital-source-type).
METADATA_KEY = "digital-source-type"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    Iptc4xmpExt:DigitalSourceType="{source_type}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""
_READ = re.compile(rb'Iptc4xmpExt:DigitalSourceType="([^"]+)"')


def xmp_packet(source_type: str = COMPOSITE_WITH_AI) -> bytes:
    """An XMP packet that states `source_type` (UTF-8)."""
    return _PACKET.format(source_type=source_type).encode("utf-8")


def png_with_xmp(png: bytes, packet: bytes) -> bytes:
    """`png` with an uncompressed iTXt `XML:com.adobe.xmp` chunk right after IHDR."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ihdr_end = len(PNG_SIGNATURE) + 8 + struct.unpack(">I", png[8:12])[0] + 4
    data = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet  # no compression, no language
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + data))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def read_source_type(encoded: bytes) -> str | None:
    """The DigitalSourceType an encoded JPEG or PNG states, or None."""
    found = _READ.search(encoded)
    return found.group(1).decode("utf-8") if found else None


def object_metadata(source_type: str | None) -> dict[str, str]:
    """S3 user metadata for an output: the same statement, or nothing."""
    return {METADATA_KEY: source_type} if source_type else {}
