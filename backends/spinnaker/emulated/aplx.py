"""Read a SpiNNaker ``.aplx`` application image: its load table and the memory it describes.

An APLX file starts with a table of 16-byte little-endian entries ``{op, a, b, c}`` (spinnaker_tools
``sark.h``), ended by an EXEC entry:

    ACOPY (1): copy ``c`` bytes from absolute address ``b`` to address ``a``   (not used by sPyNNaker)
    RCOPY (2): copy ``c`` bytes from ``b`` (relative to the start of this entry) to address ``a``
    FILL  (3): fill ``b`` bytes at address ``a`` with the word ``c`` (used for .bss)
    EXEC  (4): start execution at address ``a``
    END   (0xff)

sPyNNaker's core applications copy their code to ITCM (address 0x0) and their initialised data to
DTCM (0x400000) and zero their .bss in DTCM.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ....errors import ExecutorError

ITCM_BASE = 0x0000_0000
ITCM_SIZE = 0x8000  # 32 KiB of instruction memory on a SpiNNaker 1 core
DTCM_BASE = 0x0040_0000
DTCM_SIZE = 0x1_0000  # 64 KiB of data memory

ACOPY, RCOPY, FILL, EXEC, END = 1, 2, 3, 4, 0xFF
ENTRY_BYTES = 16
MAX_ENTRIES = 32


@dataclass(frozen=True)
class LoadedSection:
    """One block of memory the loader writes: ``data`` (bytes) at ``address``; ``zero_fill`` for FILL."""

    address: int
    data: bytes
    zero_fill: bool


@dataclass(frozen=True)
class AplxImage:
    """The memory image an ``.aplx`` file loads, plus its entry point and .bss range ``[start, end)``."""

    path: Path
    sections: tuple[LoadedSection, ...]
    entry_address: int
    bss_start: int
    bss_end: int

    @property
    def itcm(self) -> bytes:
        """The bytes copied to ITCM (address 0), i.e. the code and its literal pools."""
        for section in self.sections:
            if section.address == ITCM_BASE and not section.zero_fill:
                return section.data
        raise ExecutorError(f"{self.path}: no section is copied to ITCM address 0x0")


def _in_tcm(address: int, size: int) -> bool:
    return (ITCM_BASE <= address and address + size <= ITCM_BASE + ITCM_SIZE) or (
        DTCM_BASE <= address and address + size <= DTCM_BASE + DTCM_SIZE
    )


def read_aplx(path: str | Path) -> AplxImage:
    """Parse ``path``; raise :class:`ExecutorError` for anything that is not a TCM-only APLX image."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise ExecutorError(f"cannot read the core application {path}: {error}") from None
    sections: list[LoadedSection] = []
    bss: tuple[int, int] | None = None
    for index in range(MAX_ENTRIES):
        offset = index * ENTRY_BYTES
        if offset + ENTRY_BYTES > len(blob):
            break
        op, a, b, c = struct.unpack_from("<4I", blob, offset)
        if op == RCOPY:
            source = offset + b
            if source + c > len(blob) or not _in_tcm(a, c):
                raise ExecutorError(
                    f"{path}: load-table entry {index} copies {c} bytes from file offset "
                    f"0x{source:x} to 0x{a:x}, outside the file or the core's TCM"
                )
            sections.append(LoadedSection(a, blob[source : source + c], False))
        elif op == FILL:
            if c != 0 or not _in_tcm(a, b):
                raise ExecutorError(
                    f"{path}: load-table entry {index} fills 0x{a:x}+{b} with 0x{c:x}; "
                    "only zero fills inside DTCM (.bss) are supported"
                )
            sections.append(LoadedSection(a, bytes(b), True))
            bss = (a, a + b)
        elif op == EXEC:
            if bss is None:
                raise ExecutorError(f"{path}: the load table has no .bss FILL entry")
            return AplxImage(path, tuple(sections), a, bss[0], bss[1])
        else:
            raise ExecutorError(
                f"{path}: load-table entry {index} has op {op:#x}; expected RCOPY (2), "
                "FILL (3) or EXEC (4) as in sPyNNaker's core applications"
            )
    raise ExecutorError(f"{path}: no EXEC entry in the first {MAX_ENTRIES} load-table entries; not an APLX image")
