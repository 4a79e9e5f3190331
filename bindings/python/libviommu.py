# SPDX-License-Identifier: MIT
"""ctypes bindings for libviommu (standard library only).

Install with ``pip install ./bindings/python`` (a venv works; offline add
``--no-build-isolation --no-index`` and use ``--system-site-packages`` so
Debian's setuptools is seen). The shared library is found the way the
dynamic loader finds any library: ``libviommu.so.0`` by its SONAME
(``LD_LIBRARY_PATH``, the ``ldconfig`` cache, the default directories), then
:func:`ctypes.util.find_library`, then ``libviommu.so``. The environment
variable ``LIBVIOMMU_PATH`` (the library file itself or the directory
holding ``libviommu.so*``) overrides this, e.g. for a build tree;
:func:`library_path` tells which file was loaded.

Everything mirrors the C API one to one. Errors raise :class:`ViommuError`
whose ``code`` is an :class:`Error` member; a translation fault raises
:class:`TranslationFault` carrying the fault record.

Ownership (the same rule as in C, where viommu_ctx_destroy() frees
everything created in a context):

* A :class:`Context` owns every C object created in it: address spaces,
  notifiers, mapping domains and device models. Dropping the Python handle
  of one of them does **not** destroy the C object (an address space whose
  handle is gone still translates and still answers
  :meth:`Context.find_as`; a notifier keeps notifying). It is destroyed by
  its :meth:`close` (or on leaving its ``with`` block), or when the context
  is closed, whichever comes first; the result never depends on when the
  garbage collector runs.
* Closing an object invalidates every handle on what it contained: closing
  an address space closes its notifiers' handles, closing a device model
  the handles of its address spaces and their notifiers, closing the
  context all of them. An invalidated handle raises ``ViommuError(EINVAL)``
  when used; closing it again is a no-op.
* Address spaces of device models (``Vtd.address_space()``,
  ``VirtioIommu.add_endpoint()``, ...) are *borrowed*: their device owns
  them and their :meth:`close` only forgets the handle.
  :meth:`Context.find_as` returns the owning handle of an address space
  created through this module, else a borrowed one.
* A :class:`Context` itself (and a standalone :class:`IovaTree`) is
  destroyed by :meth:`close`/``with``, or else when it is garbage-collected
  together with everything in it.

Typical use::

    ram = bytearray(1 << 24)
    with Context(ram) as ctx:
        dom = MapDomain(ctx)
        dom.map(0x1000, 0x1fff, 0x5000, Perm.RW)
        sp = AddressSpace(ctx, AsId.virtio(8))
        sp.set_map_domain(dom)
        t = sp.translate(0x1234, Perm.READ)   # t.addr == 0x5000
"""

import ctypes
import ctypes.util
import enum
import glob
import os
import struct
import weakref

__all__ = [
    "Error", "Perm", "Mode", "FaultReason", "LogLevel", "AsKind", "EventKind", "NotifierFlag",
    "PteKind", "ViommuError", "TranslationFault", "Range", "Fault", "Translation", "Stats",
    "HostOps", "Budget", "CtxConfig", "AsId", "AsHooks", "Event", "NotifierConfig", "Pte",
    "PtFormat", "PtConfig", "PtLeaf", "AcpiOem", "Context", "AddressSpace", "Notifier",
    "MapDomain", "PageTableFormat", "lib", "load", "library_path", "SONAME", "strerror",
    "strerror_name", "version", "version_string", "STRUCTS", "ENUMS", "FUNCTIONS",
]

# ---------------------------------------------------------------------------
# Enums (values must match the C headers; tests/bindings checks they do)
# ---------------------------------------------------------------------------


class Error(enum.IntEnum):
    """enum viommu_error (error.h)."""
    OK = 0
    EINVAL = -1
    ENOMEM = -2
    ERANGE = -3
    EEXIST = -4
    ENOENT = -5
    EBUSY = -6
    EBUDGET = -7
    EFAULT = -8
    ENOTSUP = -9
    ESIZE = -10
    EFLAGS = -11
    ESTATE = -12
    EIO = -13
    ESINK = -14
    EFORMAT = -15


class Perm(enum.IntFlag):
    """enum viommu_perm (types.h)."""
    NONE = 0
    READ = 1
    WRITE = 2
    RW = 3
    EXEC = 4
    PRIV = 8
    USER = 16
    PRIV_WRITE = 32


class Mode(enum.IntEnum):
    """enum viommu_mode (types.h)."""
    BLOCKED = 0
    PASSTHROUGH = 1
    TRANSLATED = 2


class FaultReason(enum.IntEnum):
    """enum viommu_fault_reason (types.h)."""
    NONE = 0
    BLOCKED = 1
    NOT_PRESENT = 2
    PERM = 3
    ADDR_RANGE = 4
    BAD_ENTRY = 5
    READ_FAILED = 6
    UPDATE_FAILED = 7


class FaultFlag(enum.IntFlag):
    """enum viommu_fault_flag (types.h): :attr:`Fault.flags` bits."""
    FPD = 1 << 0
    HOST = 1 << 1
    ATS = 1 << 2


class LogLevel(enum.IntEnum):
    """enum viommu_log_level (ctx.h)."""
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class AsKind(enum.IntEnum):
    """enum viommu_as_kind (as.h)."""
    PCI = 0
    VIRTIO = 1
    NEST_PARENT = 2


class EventKind(enum.IntFlag):
    """enum viommu_event_kind (as.h)."""
    MAP = 1
    UNMAP = 2
    MODE = 4
    DEVIOTLB = 8
    ALL = 7  # frozen: MAP | UNMAP | MODE (DEVIOTLB must be asked for by name)
    KINDS_ALL = 15


class NotifierFlag(enum.IntFlag):
    """enum viommu_notifier_flag (as.h)."""
    NONE = 0
    COALESCE = 1


class PteKind(enum.IntEnum):
    """enum viommu_pte_kind (pt_format.h)."""
    NONE = 0
    TABLE = 1
    LEAF = 2
    BAD = 3


class PtWalkerCode(enum.IntEnum):
    """enum viommu_pt_walker_code (pt_format.h): fault codes of the core walker."""
    BAD_LEVEL = 0xFFFF0001
    BAD_PAGE_SIZE = 0xFFFF0002
    SKIPPED_BITS = 0xFFFF0003
    NON_CANONICAL = 0xFFFF0004
    USER = 0xFFFF0005
    EXEC = 0xFFFF0006
    ATTR_REFUSED = 0xFFFF0007
    OUTPUT_HOLE = 0xFFFF0008


PASID_NONE = 0xFFFFFFFF
DEFAULT_WALK_ENTRIES = 1 << 20
DEFAULT_SYNC_EVENTS = 1 << 16
DEFAULT_AS_MAPPINGS = 65535
MAX_RAM_REGIONS = 64

# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------

c_u8, c_u16, c_u32, c_u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
c_size_t, c_void_p, c_int = ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int


class _Struct(ctypes.Structure):
    def __repr__(self):
        fields = ", ".join("%s=%s" % (n, _fmt(getattr(self, n))) for n, _t in self._fields_
                           if n != "reserved")
        return "%s(%s)" % (type(self).__name__, fields)

    def __eq__(self, other):
        return type(self) is type(other) and bytes(self) == bytes(other)

    __hash__ = None


def _fmt(v):
    if isinstance(v, int) and not isinstance(v, bool):
        return hex(v)
    return repr(v)


class Range(_Struct):
    """struct viommu_range: inclusive [first, last]."""
    _fields_ = [("first", c_u64), ("last", c_u64)]


class Fault(_Struct):
    """struct viommu_fault: a guest-visible translation fault."""
    _fields_ = [("reason", c_u32), ("code", c_u32), ("iova", c_u64), ("entry_gpa", c_u64),
                ("level", c_u8), ("access", c_u8), ("flags", c_u8), ("reserved", c_u8 * 5)]


class Translation(_Struct):
    """struct viommu_translation: one naturally aligned page."""
    _fields_ = [("iova", c_u64), ("addr", c_u64), ("addr_mask", c_u64), ("perm", c_u32),
                ("reserved", c_u32)]

    @property
    def page_size(self):
        return self.addr_mask + 1


class Stats(_Struct):
    """struct viommu_stats."""
    _fields_ = [(n, c_u64) for n in (
        "translations", "iotlb_hits", "iotlb_misses", "iotlb_evictions", "iotlb_invalidations",
        "walks", "entries_read", "events", "map_events", "unmap_events", "mode_events", "syncs",
        "budget_hits", "faults", "sink_errors", "read_errors")]

    def as_dict(self):
        return {n: getattr(self, n) for n, _t in self._fields_}


READ_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_u64, c_void_p, c_size_t)
WRITE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_u64, c_void_p, c_size_t)
MSI_FN = ctypes.CFUNCTYPE(None, c_void_p, c_u64, c_u32)
LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, ctypes.c_char_p)
ALLOC_FN = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
RAM_WRITTEN_FN = ctypes.CFUNCTYPE(None, c_void_p, c_u64, c_u64)


class HostOps(_Struct):
    """struct viommu_host_ops."""
    _fields_ = [("size", c_size_t), ("read", READ_FN), ("write", WRITE_FN), ("msi", MSI_FN),
                ("log", LOG_FN), ("alloc", ALLOC_FN), ("free", FREE_FN),
                ("ram_written", RAM_WRITTEN_FN)]


class Budget(_Struct):
    """struct viommu_budget (0 = default)."""
    _fields_ = [("walk_entries", c_u64), ("sync_events", c_u64), ("as_mappings", c_u64)]


class CtxConfig(_Struct):
    """struct viommu_ctx_config."""
    _fields_ = [("size", c_size_t), ("iotlb_entries", c_u32), ("flags", c_u32), ("budget", Budget)]


class AsId(_Struct):
    """struct viommu_as_id."""
    _fields_ = [("kind", c_u32), ("segment", c_u16), ("rid", c_u16), ("endpoint", c_u32),
                ("pasid", c_u32)]

    @classmethod
    def pci(cls, rid, segment=0, pasid=PASID_NONE):
        """PCI identity; `rid` is bus << 8 | dev << 3 | fn."""
        return cls(kind=AsKind.PCI, segment=segment, rid=rid, endpoint=0, pasid=pasid)

    @classmethod
    def virtio(cls, endpoint, pasid=PASID_NONE):
        """virtio-iommu endpoint identity."""
        return cls(kind=AsKind.VIRTIO, segment=0, rid=0, endpoint=endpoint, pasid=pasid)


FAULT_HOOK_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, ctypes.POINTER(Fault))
NOTIFIER_CHECK_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, c_u32)


class AsHooks(_Struct):
    """struct viommu_as_hooks."""
    _fields_ = [("size", c_size_t), ("fault", FAULT_HOOK_FN), ("notifier_check", NOTIFIER_CHECK_FN)]


class Event(_Struct):
    """struct viommu_event: one notification."""
    _fields_ = [("kind", c_u32), ("perm", c_u32), ("iova_first", c_u64), ("iova_last", c_u64),
                ("addr", c_u64), ("mode", c_u32), ("reserved", c_u32)]

    def copy(self):
        return Event.from_buffer_copy(self)


NOTIFY_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, ctypes.POINTER(Event))
SHADOW_FN = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(Event))


class NotifierConfig(_Struct):
    """struct viommu_notifier_config."""
    _fields_ = [("size", c_size_t), ("first", c_u64), ("last", c_u64), ("events", c_u32),
                ("flags", c_u32), ("fn", NOTIFY_FN), ("opaque", c_void_p)]


class Pte(_Struct):
    """struct viommu_pte: one decoded page-table entry."""
    _fields_ = [("kind", c_u32), ("fault_code", c_u32), ("addr", c_u64), ("next_level", c_u8),
                ("page_lg2", c_u8), ("perm", c_u8), ("reserved", c_u8 * 5)]


class PtConfig(_Struct):
    """struct viommu_pt_config (fmt is a pointer to a PtFormat)."""
    _fields_ = [("fmt", c_void_p), ("root", c_u64), ("top_level", c_u8), ("va_lg2", c_u8),
                ("perm", c_u8), ("reserved", c_u8), ("fmt_flags", c_u32), ("fmt_data", c_u64)]


DECODE_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(PtConfig), ctypes.c_uint, c_u64, c_u64,
                             ctypes.POINTER(Pte))


class PtFormat(_Struct):
    """struct viommu_pt_format."""
    _fields_ = [("size", c_size_t), ("name", ctypes.c_char_p), ("granule_lg2", c_u8),
                ("level_bits", c_u8), ("max_levels", c_u8), ("reserved", c_u8), ("decode", DECODE_FN),
                ("flags", c_u32), ("reserved2", c_u32), ("accessed_bits", c_u64), ("dirty_bits", c_u64)]


class PtLeaf(_Struct):
    """struct viommu_pt_leaf."""
    _fields_ = [("iova_first", c_u64), ("iova_last", c_u64), ("addr", c_u64), ("page_lg2", c_u8),
                ("level", c_u8), ("perm", c_u8), ("reserved", c_u8 * 5)]


LEAF_FN = ctypes.CFUNCTYPE(c_int, c_void_p, ctypes.POINTER(PtLeaf))
BAD_FN = ctypes.CFUNCTYPE(None, c_void_p, ctypes.POINTER(Fault))


class AcpiOem(_Struct):
    """struct viommu_acpi_oem."""
    _fields_ = [("oem_id", ctypes.c_char * 6), ("oem_table_id", ctypes.c_char * 8),
                ("oem_revision", c_u32), ("creator_id", ctypes.c_char * 4),
                ("creator_revision", c_u32)]


#: Public C struct name -> ctypes class (used by the drift check).
STRUCTS = {
    "viommu_range": Range, "viommu_fault": Fault, "viommu_translation": Translation,
    "viommu_stats": Stats, "viommu_host_ops": HostOps, "viommu_budget": Budget,
    "viommu_ctx_config": CtxConfig, "viommu_as_id": AsId, "viommu_as_hooks": AsHooks,
    "viommu_event": Event, "viommu_notifier_config": NotifierConfig, "viommu_pte": Pte,
    "viommu_pt_format": PtFormat, "viommu_pt_config": PtConfig, "viommu_pt_leaf": PtLeaf,
    "viommu_acpi_oem": AcpiOem,
}

#: C enum type -> (member prefix, Python enum) (used by the drift check).
ENUMS = {
    "viommu_error": ("VIOMMU_", Error), "viommu_perm": ("VIOMMU_PERM_", Perm),
    "viommu_mode": ("VIOMMU_MODE_", Mode), "viommu_fault_reason": ("VIOMMU_FAULT_", FaultReason),
    "viommu_fault_flag": ("VIOMMU_FAULT_F_", FaultFlag),
    "viommu_log_level": ("VIOMMU_LOG_", LogLevel), "viommu_as_kind": ("VIOMMU_AS_", AsKind),
    "viommu_event_kind": ("VIOMMU_EVENT_", EventKind),
    "viommu_notifier_flag": ("VIOMMU_NOTIFIER_", NotifierFlag), "viommu_pte_kind": ("VIOMMU_PTE_", PteKind),
    "viommu_pt_walker_code": ("VIOMMU_PT_CODE_", PtWalkerCode),
}

# ---------------------------------------------------------------------------
# Library loading and prototypes
# ---------------------------------------------------------------------------

P = ctypes.POINTER
_ctx_p = c_void_p
#: name -> (restype, argtypes). Every exported function the module uses.
FUNCTIONS = {
    "viommu_strerror": (ctypes.c_char_p, [c_int]),
    "viommu_strerror_name": (ctypes.c_char_p, [c_int]),
    "viommu_version": (c_int, []),
    "viommu_version_string": (ctypes.c_char_p, []),
    "viommu_ctx_create": (c_int, [P(HostOps), c_void_p, P(CtxConfig), P(c_void_p)]),
    "viommu_ctx_destroy": (c_int, [_ctx_p]),
    "viommu_ctx_add_ram": (c_int, [_ctx_p, c_u64, c_u64, c_void_p]),
    "viommu_ctx_remove_ram": (c_int, [_ctx_p, c_u64]),
    "viommu_ctx_get_stats": (c_int, [_ctx_p, P(Stats), c_size_t]),
    "viommu_ctx_get_budget": (c_int, [_ctx_p, P(Budget)]),
    "viommu_ctx_set_budget": (c_int, [_ctx_p, P(Budget)]),
    "viommu_iotlb_invalidate_all": (c_int, [_ctx_p]),
    "viommu_as_create": (c_int, [_ctx_p, P(AsId), P(AsHooks), c_void_p, P(c_void_p)]),
    "viommu_as_destroy": (c_int, [c_void_p]),
    "viommu_as_find": (c_int, [_ctx_p, P(AsId), P(c_void_p)]),
    "viommu_as_get_id": (c_int, [c_void_p, P(AsId)]),
    "viommu_as_get_mode": (c_int, [c_void_p]),
    "viommu_as_translate": (c_int, [c_void_p, c_u64, ctypes.c_uint, P(Translation), P(Fault)]),
    "viommu_as_ats_translate": (c_int, [c_void_p, c_u64, ctypes.c_uint, P(Translation)]),
    "viommu_as_deviotlb_invalidate": (c_int, [c_void_p, c_u64, c_u64, c_u32, c_u32]),
    "viommu_as_set_blocked": (c_int, [c_void_p, c_u32]),
    "viommu_as_set_passthrough": (c_int, [c_void_p]),
    "viommu_as_set_pt": (c_int, [c_void_p, c_u64, P(PtConfig)]),
    "viommu_as_set_map_domain": (c_int, [c_void_p, c_void_p]),
    "viommu_as_sync": (c_int, [c_void_p, c_u64, c_u64]),
    "viommu_domain_sync": (c_int, [_ctx_p, c_void_p, c_u64, c_u64, c_u64]),
    "viommu_as_invalidate": (c_int, [c_void_p, c_u64, c_u64]),
    "viommu_notifier_register": (c_int, [c_void_p, P(NotifierConfig), P(c_void_p)]),
    "viommu_notifier_unregister": (None, [c_void_p]),
    "viommu_notifier_replay": (c_int, [c_void_p]),
    "viommu_notifier_foreach_shadow": (c_int, [c_void_p, SHADOW_FN, c_void_p]),
    "viommu_map_domain_create": (c_int, [_ctx_p, c_u64, P(c_void_p)]),
    "viommu_map_domain_destroy": (c_int, [c_void_p]),
    "viommu_map_domain_map": (c_int, [c_void_p, c_u64, c_u64, c_u64, ctypes.c_uint]),
    "viommu_map_domain_unmap": (c_int, [c_void_p, c_u64, c_u64, P(c_u64)]),
    "viommu_map_domain_lookup": (c_int, [c_void_p, c_u64, P(Event)]),
    "viommu_map_domain_count": (ctypes.c_int64, [c_void_p]),
    "viommu_pt_translate": (c_int, [_ctx_p, P(PtConfig), c_u64, ctypes.c_uint, P(Translation), P(Fault)]),
    "viommu_pt_walk_range": (c_int, [_ctx_p, P(PtConfig), c_u64, c_u64, LEAF_FN, BAD_FN, c_void_p,
                                     P(c_u64)]),
    "viommu_pt_translate_nested": (c_int, [_ctx_p, P(PtConfig), P(PtConfig), c_u64, ctypes.c_uint,
                                           P(Translation), P(Fault)]),
    "viommu_pt_walk_range_nested": (c_int, [_ctx_p, P(PtConfig), P(PtConfig), c_u64, c_u64, LEAF_FN, BAD_FN,
                                            c_void_p, P(c_u64)]),
}

#: Optional functions (device models): bound only if the library exports them.
OPTIONAL_FUNCTIONS = {}

lib = None


SONAME = "libviommu.so.0"


def _candidates():
    """Names to dlopen(), in order (generated lazily: find_library runs tools)."""
    env = os.environ.get("LIBVIOMMU_PATH")
    if env:
        if os.path.isdir(env):
            found = sorted(glob.glob(os.path.join(env, "libviommu.so*")), key=len)
            yield found[0] if found else os.path.join(env, "libviommu.so")
        else:
            yield env
        return
    # A bare name: the dynamic loader searches LD_LIBRARY_PATH, the ld.so
    # cache and the default directories, exactly as for a linked program.
    yield SONAME
    name = ctypes.util.find_library("viommu")
    if name and name != SONAME:
        yield name
    yield "libviommu.so"


def load(path=None):
    """Load (or reload) the shared library and bind every prototype.

    :param path: a file name for dlopen(); default: ``LIBVIOMMU_PATH`` or the
        normal loader search (see the module documentation)."""
    global lib
    errors = []
    for cand in ([path] if path else _candidates()):
        try:
            handle = ctypes.CDLL(cand)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise OSError("libviommu not found (install it where the dynamic loader looks, or set "
                      "LD_LIBRARY_PATH or LIBVIOMMU_PATH): " + "; ".join(errors))
    for name, (res, args) in FUNCTIONS.items():
        fn = getattr(handle, name)
        fn.restype, fn.argtypes = res, args
    for name, (res, args) in OPTIONAL_FUNCTIONS.items():
        fn = getattr(handle, name, None)
        if fn is not None:
            fn.restype, fn.argtypes = res, args
    lib = handle
    return handle


def _lib():
    if lib is None:
        load()
    return lib


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", c_void_p), ("dli_sname", ctypes.c_char_p),
                ("dli_saddr", c_void_p)]


def library_path():
    """Absolute file name of the loaded shared library (loading it if needed),
    as the dynamic loader resolved it (dladdr() of one of its functions)."""
    fn = _lib().viommu_version
    try:
        dladdr = ctypes.CDLL(None).dladdr
        dladdr.restype, dladdr.argtypes = c_int, [c_void_p, ctypes.POINTER(_DlInfo)]
        info = _DlInfo()
        if dladdr(ctypes.cast(fn, c_void_p), ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(os.fsdecode(info.dli_fname))
    except AttributeError:  # no dladdr in this C library
        pass
    return lib._name


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def strerror(code):
    """viommu_strerror()."""
    return _lib().viommu_strerror(int(code)).decode()


def strerror_name(code):
    """viommu_strerror_name()."""
    return _lib().viommu_strerror_name(int(code)).decode()


class ViommuError(Exception):
    """A negative VIOMMU_E* return code. ``code`` is an :class:`Error` (or int if unknown)."""

    def __init__(self, code, what=""):
        try:
            self.code = Error(code)
        except ValueError:
            self.code = code
        self.what = what
        msg = "%s: %s" % (strerror_name(code), strerror(code))
        super().__init__("%s: %s" % (what, msg) if what else msg)


class TranslationFault(ViommuError):
    """viommu_*_translate returned VIOMMU_EFAULT; ``fault`` is the record."""

    def __init__(self, fault, what=""):
        self.fault = fault
        super().__init__(Error.EFAULT, what)
        self.reason = FaultReason(fault.reason) if fault.reason in FaultReason._value2member_map_ \
            else fault.reason


def _check(r, what):
    if r < 0:
        raise ViommuError(r, what)
    return r


def version():
    """viommu_version()."""
    return _lib().viommu_version()


def version_string():
    """viommu_version_string()."""
    return _lib().viommu_version_string().decode()


# ---------------------------------------------------------------------------
# Handles
# ---------------------------------------------------------------------------


class _Handle:
    _ptr = None
    _within = None  # pointer of the C object this one lives in (None: the context itself)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    @property
    def ptr(self):
        if not self._ptr:
            raise ViommuError(Error.EINVAL, "%s is closed" % type(self).__name__)
        return self._ptr

    @property
    def closed(self):
        """True once the C object is gone (closed, or destroyed with its container)."""
        return not self._ptr


class Context(_Handle):
    """A viommu context over a guest RAM buffer and/or Python callbacks.

    :param ram: a writable buffer (bytearray) that is guest RAM at GPA ``ram_base``;
        it backs the default read/write callbacks.
    :param direct: also register ``ram`` with viommu_ctx_add_ram() (fast path).
    :param read: ``read(gpa, length) -> bytes`` or None on failure; overrides ``ram``.
    :param write: ``write(gpa, data) -> bool``; overrides ``ram``.
    :param msi: ``msi(addr, data)``; defaults to appending to ``self.msis``.
    :param log: ``log(level, message)``; defaults to appending to ``self.logs``.
    :param budget: a :class:`Budget`; :param iotlb_entries: IOTLB capacity.
    """

    def __init__(self, ram=None, direct=False, read=None, write=None, msi=None, log=None,
                 budget=None, iotlb_entries=0, ram_base=0):
        self._lib = _lib()
        self.ram = ram
        self.ram_base = ram_base
        self.msis, self.logs = [], []
        self._user = {"read": read, "write": write, "msi": msi, "log": log}
        self.callback_errors = []
        self._ram_c = None
        if ram is not None:
            self._ram_c = (ctypes.c_char * len(ram)).from_buffer(ram)
        ops = HostOps(size=ctypes.sizeof(HostOps), read=READ_FN(self._cb_read),
                      write=WRITE_FN(self._cb_write), msi=MSI_FN(self._cb_msi),
                      log=LOG_FN(self._cb_log))
        self._ops = ops  # keep the thunks alive as long as the context
        cfg = CtxConfig(size=ctypes.sizeof(CtxConfig), iotlb_entries=iotlb_entries, flags=0)
        if budget is not None:
            cfg.budget = budget
        out = c_void_p()
        _check(self._lib.viommu_ctx_create(ctypes.byref(ops), None, ctypes.byref(cfg),
                                           ctypes.byref(out)), "viommu_ctx_create")
        self._ptr = out.value
        self._children = []  # weak references to every handle in this context
        self._owned = {}     # id -> handle of every live C object created here (kept alive)
        if direct and ram is not None:
            self.add_ram(ram_base, len(ram), ctypes.addressof(self._ram_c))

    # -- host callbacks (must never raise into C) --
    def _cb_read(self, _opaque, gpa, buf, length):
        try:
            if self._user["read"] is not None:
                data = self._user["read"](gpa, length)
                if data is None or len(data) != length:
                    return -1
                ctypes.memmove(buf, bytes(data), length)
                return 0
            if self.ram is None or gpa < self.ram_base or gpa - self.ram_base + length > len(self.ram):
                return -1
            ctypes.memmove(buf, ctypes.addressof(self._ram_c) + gpa - self.ram_base, length)
            return 0
        except Exception as e:  # pragma: no cover - reported, not raised into C
            self.callback_errors.append(e)
            return -1

    def _cb_write(self, _opaque, gpa, buf, length):
        try:
            if self._user["write"] is not None:
                return 0 if self._user["write"](gpa, ctypes.string_at(buf, length)) else -1
            if self.ram is None or gpa < self.ram_base or gpa - self.ram_base + length > len(self.ram):
                return -1
            ctypes.memmove(ctypes.addressof(self._ram_c) + gpa - self.ram_base, buf, length)
            return 0
        except Exception as e:  # pragma: no cover
            self.callback_errors.append(e)
            return -1

    def _cb_msi(self, _opaque, addr, data):
        try:
            if self._user["msi"] is not None:
                self._user["msi"](addr, data)
            else:
                self.msis.append((addr, data))
        except Exception as e:  # pragma: no cover
            self.callback_errors.append(e)

    def _cb_log(self, _opaque, level, msg):
        try:
            text = msg.decode(errors="replace")
            if self._user["log"] is not None:
                self._user["log"](LogLevel(level), text)
            else:
                self.logs.append((LogLevel(level), text))
        except Exception as e:  # pragma: no cover
            self.callback_errors.append(e)

    # -- API --
    def close(self):
        """Destroy the context (and every address space, notifier, domain and
        device model in it); every handle on them becomes invalid."""
        if self._ptr:
            # Device models first: the context refuses to go while one lives.
            for child in reversed(self._children):
                obj = child()
                if isinstance(obj, (VirtioIommu, Vtd, Amdvi)):
                    obj.close()
            for child in reversed(self._children):
                obj = child()
                if obj is not None:
                    obj._ptr = None  # freed by viommu_ctx_destroy
            self._children, self._owned = [], {}
            self._lib.viommu_ctx_destroy(self._ptr)
            self._ptr = None

    def _adopt(self, obj, owned=True, within=None):
        """Track a new handle; an owned one is kept alive until destroyed."""
        obj._within = within
        if len(self._children) % 256 == 255:  # forget dropped borrowed handles now and then
            self._children = [r for r in self._children if r() is not None and r()._ptr]
        self._children.append(weakref.ref(obj))
        if owned:
            self._owned[id(obj)] = obj

    def _destroyed(self, ptr):
        """The C object at ``ptr`` was freed, with everything inside it:
        invalidate every handle on any of them and stop keeping them alive."""
        dead, changed = {ptr}, True
        while changed:
            changed = False
            for ref in self._children:
                obj = ref()
                if obj is not None and obj._ptr and (obj._ptr in dead or obj._within in dead):
                    dead.add(obj._ptr)
                    obj._ptr = None
                    self._owned.pop(id(obj), None)
                    changed = True
        self._children = [r for r in self._children if r() is not None and r()._ptr]

    def _forget(self, obj):
        """Drop a borrowed handle (its C object lives on)."""
        obj._ptr = None
        self._children = [r for r in self._children if r() is not None and r() is not obj]

    def add_ram(self, gpa, length, host_addr):
        """viommu_ctx_add_ram() with a raw host address (keep the memory alive!)."""
        _check(self._lib.viommu_ctx_add_ram(self.ptr, gpa, length, c_void_p(host_addr)),
               "viommu_ctx_add_ram")

    def remove_ram(self, gpa):
        """viommu_ctx_remove_ram()."""
        _check(self._lib.viommu_ctx_remove_ram(self.ptr, gpa), "viommu_ctx_remove_ram")

    def stats(self):
        """viommu_ctx_get_stats() as a :class:`Stats`."""
        s = Stats()
        _check(self._lib.viommu_ctx_get_stats(self.ptr, ctypes.byref(s), ctypes.sizeof(s)),
               "viommu_ctx_get_stats")
        return s

    @property
    def budget(self):
        b = Budget()
        _check(self._lib.viommu_ctx_get_budget(self.ptr, ctypes.byref(b)), "viommu_ctx_get_budget")
        return b

    @budget.setter
    def budget(self, b):
        _check(self._lib.viommu_ctx_set_budget(self.ptr, ctypes.byref(b)), "viommu_ctx_set_budget")

    def invalidate_all(self):
        """viommu_iotlb_invalidate_all()."""
        _check(self._lib.viommu_iotlb_invalidate_all(self.ptr), "viommu_iotlb_invalidate_all")

    def find_as(self, as_id):
        """viommu_as_find(): the :class:`AddressSpace` with this identity or None.

        For a space created through this module it is that space's owning
        handle (its :meth:`AddressSpace.close` destroys it), otherwise a
        borrowed handle (e.g. a device model's space)."""
        out = c_void_p()
        r = self._lib.viommu_as_find(self.ptr, ctypes.byref(as_id), ctypes.byref(out))
        if r == Error.ENOENT:
            return None
        _check(r, "viommu_as_find")
        for obj in self._owned.values():
            if isinstance(obj, AddressSpace) and obj._ptr == out.value:
                return obj
        return AddressSpace._borrow(self, out.value)

    def domain_sync(self, domain, first=0, last=(1 << 64) - 1, owner=None):
        """viommu_domain_sync() (owner = the hooks' opaque pointer, None = any)."""
        _check(self._lib.viommu_domain_sync(self.ptr, owner, domain, first, last), "viommu_domain_sync")

    def pt_translate(self, cfg, iova, access=Perm.NONE):
        """viommu_pt_translate(): a :class:`Translation` or raises :class:`TranslationFault`."""
        t, f = Translation(), Fault()
        r = self._lib.viommu_pt_translate(self.ptr, ctypes.byref(cfg), iova, int(access),
                                          ctypes.byref(t), ctypes.byref(f))
        if r == Error.EFAULT:
            raise TranslationFault(f, "viommu_pt_translate")
        _check(r, "viommu_pt_translate")
        return t

    def pt_walk(self, cfg, first=0, last=(1 << 64) - 1):
        """viommu_pt_walk_range(): returns (leaves, bad_entries, walked_last, rc).

        rc is 0 or Error.EBUDGET (a budget stop is a result, not an exception)."""
        leaves, bad = [], []

        def on_leaf(_o, lp):
            leaves.append(PtLeaf.from_buffer_copy(lp.contents))
            return 0

        def on_bad(_o, fp):
            bad.append(Fault.from_buffer_copy(fp.contents))

        walked = c_u64()
        r = self._lib.viommu_pt_walk_range(self.ptr, ctypes.byref(cfg), first, last, LEAF_FN(on_leaf),
                                           BAD_FN(on_bad), None, ctypes.byref(walked))
        if r != Error.EBUDGET:
            _check(r, "viommu_pt_walk_range")
        return leaves, bad, walked.value, Error(r)


class AddressSpace(_Handle):
    """An address space (viommu_as).

    One created here belongs to its :class:`Context`: dropping this handle
    does not destroy it, :meth:`close` (or ``with``) or closing the context
    does. Device models' spaces are borrowed (see the module documentation)."""

    def __init__(self, ctx, as_id, on_fault=None, notifier_check=None):
        self.ctx = ctx
        self._owned = True
        self.faults = []
        self._on_fault, self._check = on_fault, notifier_check
        hooks = AsHooks(size=ctypes.sizeof(AsHooks), fault=FAULT_HOOK_FN(self._cb_fault),
                        notifier_check=NOTIFIER_CHECK_FN(self._cb_check))
        self._hooks = hooks
        out = c_void_p()
        _check(ctx._lib.viommu_as_create(ctx.ptr, ctypes.byref(as_id), ctypes.byref(hooks), None,
                                         ctypes.byref(out)), "viommu_as_create")
        self._ptr = out.value
        ctx._adopt(self)

    @classmethod
    def _borrow(cls, ctx, ptr, within=None):
        obj = cls.__new__(cls)
        obj.ctx, obj._owned, obj._ptr, obj.faults = ctx, False, ptr, []
        ctx._adopt(obj, owned=False, within=within)
        return obj

    def _cb_fault(self, _o, _as, fp):
        f = Fault.from_buffer_copy(fp.contents)
        self.faults.append(f)
        if self._on_fault is not None:
            try:
                self._on_fault(f)
            except Exception as e:  # pragma: no cover
                self.ctx.callback_errors.append(e)

    def _cb_check(self, _o, _as, events):
        if self._check is None:
            return 0
        try:
            return int(self._check(EventKind(events)) or 0)
        except Exception as e:  # pragma: no cover
            self.ctx.callback_errors.append(e)
            return int(Error.EINVAL)

    def close(self):
        """Destroy an owned address space and its notifiers (every handle on
        them becomes invalid); a borrowed handle is just forgotten."""
        if not self._ptr or not self.ctx._ptr:
            self._ptr = None
        elif getattr(self, "_owned", False):
            ptr = self._ptr
            self.ctx._lib.viommu_as_destroy(ptr)
            self.ctx._destroyed(ptr)
        else:
            self.ctx._forget(self)

    @property
    def id(self):
        out = AsId()
        _check(self.ctx._lib.viommu_as_get_id(self.ptr, ctypes.byref(out)), "viommu_as_get_id")
        return out

    @property
    def mode(self):
        return Mode(_check(self.ctx._lib.viommu_as_get_mode(self.ptr), "viommu_as_get_mode"))

    def translate(self, iova, access=Perm.READ):
        """viommu_as_translate(): a :class:`Translation` or raises :class:`TranslationFault`."""
        t, f = Translation(), Fault()
        r = self.ctx._lib.viommu_as_translate(self.ptr, iova, int(access), ctypes.byref(t),
                                              ctypes.byref(f))
        if r == Error.EFAULT:
            raise TranslationFault(f, "viommu_as_translate")
        _check(r, "viommu_as_translate")
        return t

    def ats_translate(self, iova, access=Perm.READ):
        """viommu_as_ats_translate(): a :class:`Translation` or None ("no translation")."""
        t = Translation()
        r = self.ctx._lib.viommu_as_ats_translate(self.ptr, iova, int(access), ctypes.byref(t))
        if r == Error.ENOENT:
            return None
        _check(r, "viommu_as_ats_translate")
        return t

    def deviotlb_invalidate(self, first=0, last=(1 << 64) - 1, pasid=PASID_NONE, flags=0):
        """viommu_as_deviotlb_invalidate(): tell the DEVIOTLB notifiers."""
        _check(self.ctx._lib.viommu_as_deviotlb_invalidate(self.ptr, first, last, pasid, flags),
               "viommu_as_deviotlb_invalidate")

    def set_blocked(self, code=0):
        _check(self.ctx._lib.viommu_as_set_blocked(self.ptr, code), "viommu_as_set_blocked")

    def set_passthrough(self):
        _check(self.ctx._lib.viommu_as_set_passthrough(self.ptr), "viommu_as_set_passthrough")

    def set_pt(self, domain, cfg):
        _check(self.ctx._lib.viommu_as_set_pt(self.ptr, domain, ctypes.byref(cfg)), "viommu_as_set_pt")

    def set_map_domain(self, dom):
        _check(self.ctx._lib.viommu_as_set_map_domain(self.ptr, dom.ptr), "viommu_as_set_map_domain")

    def sync(self, first=0, last=(1 << 64) - 1):
        _check(self.ctx._lib.viommu_as_sync(self.ptr, first, last), "viommu_as_sync")

    def invalidate(self, first=0, last=(1 << 64) - 1):
        _check(self.ctx._lib.viommu_as_invalidate(self.ptr, first, last), "viommu_as_invalidate")

    def notifier(self, fn, first=0, last=(1 << 64) - 1, events=EventKind.ALL, flags=NotifierFlag.NONE):
        """Register a notifier; ``fn(event)`` returns None/0 or a negative int (failure).

        The notifier stays registered until its :meth:`Notifier.close` or the
        end of the address space, whether or not the returned handle is kept."""
        return Notifier(self, fn, first, last, events, flags)


class Notifier(_Handle):
    """A registered notifier (viommu_notifier). ``fn(Event)`` is called per event."""

    def __init__(self, space, fn, first, last, events, flags):
        self.ctx, self.space, self._fn = space.ctx, space, fn
        self._thunk = NOTIFY_FN(self._cb)
        cfg = NotifierConfig(size=ctypes.sizeof(NotifierConfig), first=first, last=last,
                             events=int(events), flags=int(flags), fn=self._thunk, opaque=None)
        out = c_void_p()
        _check(self.ctx._lib.viommu_notifier_register(space.ptr, ctypes.byref(cfg), ctypes.byref(out)),
               "viommu_notifier_register")
        self._ptr = out.value
        self.ctx._adopt(self, within=space._ptr)

    def _cb(self, _o, _as, evp):
        try:
            r = self._fn(Event.from_buffer_copy(evp.contents))
            return int(r or 0)
        except Exception as e:
            self.ctx.callback_errors.append(e)
            return -1

    def close(self):
        """Unregister the notifier."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_notifier_unregister(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None

    def replay(self):
        """viommu_notifier_replay()."""
        _check(self.ctx._lib.viommu_notifier_replay(self.ptr), "viommu_notifier_replay")

    def shadow(self):
        """viommu_notifier_foreach_shadow() as a list of MAP :class:`Event`."""
        out = []

        def visit(_o, ep):
            out.append(Event.from_buffer_copy(ep.contents))
            return 0

        _check(self.ctx._lib.viommu_notifier_foreach_shadow(self.ptr, SHADOW_FN(visit), None),
               "viommu_notifier_foreach_shadow")
        return out


class MapDomain(_Handle):
    """A mapping domain (viommu_map_domain)."""

    def __init__(self, ctx, max_mappings=0):
        self.ctx = ctx
        out = c_void_p()
        _check(ctx._lib.viommu_map_domain_create(ctx.ptr, max_mappings, ctypes.byref(out)),
               "viommu_map_domain_create")
        self._ptr = out.value
        ctx._adopt(self)

    def close(self):
        """Destroy the domain (address spaces using it become blocked)."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_map_domain_destroy(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None

    def map(self, first, last, addr, perm=Perm.RW):
        _check(self.ctx._lib.viommu_map_domain_map(self.ptr, first, last, addr, int(perm)),
               "viommu_map_domain_map")

    def unmap(self, first, last):
        """Returns the number of mappings removed."""
        n = c_u64()
        _check(self.ctx._lib.viommu_map_domain_unmap(self.ptr, first, last, ctypes.byref(n)),
               "viommu_map_domain_unmap")
        return n.value

    def lookup(self, iova):
        """The mapping containing ``iova`` as an :class:`Event`, or None."""
        ev = Event()
        r = self.ctx._lib.viommu_map_domain_lookup(self.ptr, iova, ctypes.byref(ev))
        if r == Error.ENOENT:
            return None
        _check(r, "viommu_map_domain_lookup")
        return ev

    def __len__(self):
        return _check(self.ctx._lib.viommu_map_domain_count(self.ptr), "viommu_map_domain_count")


class PageTableFormat:
    """A page-table format: a built-in one (from a C pointer) or one written in
    Python (``decode(cfg, level, iova, pte) -> Pte``) for experiments."""

    def __init__(self, name=None, granule_lg2=12, level_bits=9, max_levels=4, decode=None, ptr=None):
        if ptr is not None:
            self.ptr = ptr
            self.fmt = ctypes.cast(ptr, P(PtFormat)).contents
            return
        self._name = name.encode()

        def thunk(cfgp, level, iova, pte, outp):
            try:
                res = decode(cfgp.contents, level, iova, pte)
            except Exception:  # a decode bug reads as a malformed entry
                res = Pte(kind=PteKind.BAD, fault_code=0xFFFF)
            ctypes.memmove(outp, ctypes.byref(res), ctypes.sizeof(Pte))

        self._thunk = DECODE_FN(thunk)
        self.fmt = PtFormat(size=ctypes.sizeof(PtFormat), name=self._name, granule_lg2=granule_lg2,
                            level_bits=level_bits, max_levels=max_levels, decode=self._thunk)
        self.ptr = ctypes.addressof(self.fmt)

    @property
    def name(self):
        return self.fmt.name.decode()

    def config(self, root, top_level, va_lg2=None, perm=Perm.RW, fmt_flags=0, fmt_data=0):
        """A :class:`PtConfig` for this format (keep the format object alive).
        `va_lg2` defaults to what the top table indexes (at most 64)."""
        if va_lg2 is None:
            va_lg2 = min(64, self.fmt.granule_lg2 + (top_level + 1) * self.fmt.level_bits)
        return PtConfig(fmt=self.ptr, root=root, top_level=top_level, va_lg2=va_lg2, perm=int(perm),
                        fmt_flags=fmt_flags, fmt_data=fmt_data)


# ---------------------------------------------------------------------------
# virtio-iommu (virtio_iommu.h)
# ---------------------------------------------------------------------------


class VirtioFeature(enum.IntEnum):
    """enum viommu_virtio_feature (bit numbers)."""
    INPUT_RANGE = 0
    DOMAIN_RANGE = 1
    MAP_UNMAP = 2
    BYPASS = 3
    PROBE = 4
    MMIO = 5
    BYPASS_CONFIG = 6


class VirtioResvSubtype(enum.IntEnum):
    """enum viommu_virtio_resv_subtype."""
    RESERVED = 0
    MSI = 1


class VirtioResetFlag(enum.IntFlag):
    """enum viommu_virtio_reset_flag."""
    NONE = 0
    SYSTEM = 1


class ViotIommuKind(enum.IntEnum):
    """enum viommu_viot_iommu_kind."""
    PCI = 0
    MMIO = 1


VIRTIO_FEATURES_DEFAULT = 0x77  # INPUT_RANGE|DOMAIN_RANGE|MAP_UNMAP|PROBE|MMIO|BYPASS_CONFIG
VIRTIO_CONFIG_LEN = 40
VIRTIO_FAULT_LEN = 24

FAULT_NOTIFY_FN = ctypes.CFUNCTYPE(None, c_void_p)


class Iovec(_Struct):
    """struct viommu_iovec."""
    _fields_ = [("base", c_void_p), ("len", c_size_t)]


class VirtioConfig(_Struct):
    """struct viommu_virtio_config."""
    _fields_ = [("size", c_size_t), ("features", c_u64), ("page_size_mask", c_u64), ("input_first", c_u64),
                ("input_last", c_u64), ("domain_first", c_u32), ("domain_last", c_u32),
                ("probe_size", c_u32), ("bypass", c_u8), ("reserved", c_u8 * 3), ("max_domains", c_u32),
                ("fault_queue_depth", c_u32), ("max_mappings", c_u64), ("gpa_last", c_u64),
                ("fault_notify", FAULT_NOTIFY_FN), ("opaque", c_void_p)]


class VirtioStats(_Struct):
    """struct viommu_virtio_stats."""
    _fields_ = [(n, c_u64) for n in (
        "requests", "attach", "detach", "map", "unmap", "probe", "failed", "unanswered", "faults",
        "faults_dropped", "faults_popped", "domains", "config_writes_ignored")]


class ViotPciRange(_Struct):
    """struct viommu_viot_pci_range."""
    _fields_ = [("endpoint_start", c_u32), ("segment_start", c_u16), ("segment_end", c_u16),
                ("bdf_start", c_u16), ("bdf_end", c_u16)]


class ViotMmioEndpoint(_Struct):
    """struct viommu_viot_mmio_endpoint."""
    _fields_ = [("endpoint", c_u32), ("reserved", c_u32), ("base", c_u64)]


class VirtioBlockCode(enum.IntEnum):
    """enum viommu_virtio_block_code: :attr:`Fault.code` of a blocked endpoint."""
    UNATTACHED = 1


class ViotConfig(_Struct):
    """struct viommu_viot_config."""
    _fields_ = [("size", c_size_t), ("iommu_kind", c_u32), ("iommu_segment", c_u16), ("iommu_bdf", c_u16),
                ("iommu_base", c_u64), ("pci_ranges", P(ViotPciRange)), ("n_pci_ranges", c_u32),
                ("n_mmio_endpoints", c_u32), ("mmio_endpoints", P(ViotMmioEndpoint)),
                ("oem", P(AcpiOem))]


STRUCTS.update({"viommu_iovec": Iovec, "viommu_virtio_config": VirtioConfig,
                "viommu_virtio_stats": VirtioStats, "viommu_viot_pci_range": ViotPciRange,
                "viommu_viot_mmio_endpoint": ViotMmioEndpoint, "viommu_viot_config": ViotConfig})
ENUMS.update({"viommu_virtio_feature": ("VIOMMU_VIRTIO_F_", VirtioFeature),
              "viommu_virtio_resv_subtype": ("VIOMMU_VIRTIO_RESV_", VirtioResvSubtype),
              "viommu_virtio_reset_flag": ("VIOMMU_VIRTIO_RESET_", VirtioResetFlag),
              "viommu_viot_iommu_kind": ("VIOMMU_VIOT_IOMMU_", ViotIommuKind),
              "viommu_virtio_block_code": ("VIOMMU_VIRTIO_BLOCK_", VirtioBlockCode)})
OPTIONAL_FUNCTIONS.update({
    "viommu_virtio_create": (c_int, [_ctx_p, P(VirtioConfig), P(c_void_p)]),
    "viommu_virtio_destroy": (c_int, [c_void_p]),
    "viommu_virtio_add_endpoint": (c_int, [c_void_p, c_u32, P(c_void_p)]),
    "viommu_virtio_remove_endpoint": (c_int, [c_void_p, c_u32]),
    "viommu_virtio_get_as": (c_int, [c_void_p, c_u32, P(c_void_p)]),
    "viommu_virtio_add_resv": (c_int, [c_void_p, c_u32, c_u64, c_u64, ctypes.c_uint]),
    "viommu_virtio_get_features": (c_int, [c_void_p, P(c_u64)]),
    "viommu_virtio_set_driver_features": (c_int, [c_void_p, c_u64]),
    "viommu_virtio_config_read": (c_int, [c_void_p, c_u32, c_void_p, c_size_t]),
    "viommu_virtio_config_write": (c_int, [c_void_p, c_u32, c_void_p, c_size_t]),
    "viommu_virtio_handle_request": (c_int, [c_void_p, P(Iovec), ctypes.c_uint, P(Iovec), ctypes.c_uint,
                                             P(c_size_t)]),
    "viommu_virtio_pop_fault": (c_int, [c_void_p, c_void_p, c_size_t, P(c_size_t)]),
    "viommu_virtio_reset": (c_int, [c_void_p, ctypes.c_uint]),
    "viommu_virtio_save": (c_int, [c_void_p, c_void_p, P(c_size_t)]),
    "viommu_virtio_restore": (c_int, [c_void_p, c_void_p, c_size_t]),
    "viommu_virtio_get_stats": (c_int, [c_void_p, P(VirtioStats), c_size_t]),
    "viommu_viot_build": (c_int, [P(ViotConfig), c_void_p, P(c_size_t)]),
})
if lib is not None:
    load()


class VirtioIommu(_Handle):
    """A virtio-iommu device model. Keyword arguments set VirtioConfig fields
    (e.g. ``features=``, ``page_size_mask=``, ``input_first=``, ``bypass=``)."""

    # virtio 1.3 "IOMMU device": request types and status codes.
    T_ATTACH, T_DETACH, T_MAP, T_UNMAP, T_PROBE = 1, 2, 3, 4, 5
    STATUS = {0: "OK", 1: "IOERR", 2: "UNSUPP", 3: "DEVERR", 4: "INVAL", 5: "RANGE", 6: "NOENT",
              7: "FAULT", 8: "NOMEM"}

    def __init__(self, ctx, **cfg):
        self.ctx = ctx
        self.fault_kicks = 0
        self._notify = FAULT_NOTIFY_FN(self._kick)
        c = VirtioConfig(size=ctypes.sizeof(VirtioConfig), fault_notify=self._notify)
        for k, val in cfg.items():
            setattr(c, k, val)
        self.probe_size = c.probe_size or 512
        out = c_void_p()
        _check(ctx._lib.viommu_virtio_create(ctx.ptr, ctypes.byref(c), ctypes.byref(out)),
               "viommu_virtio_create")
        self._ptr = out.value
        ctx._adopt(self)

    def _kick(self, _o):
        self.fault_kicks += 1

    def close(self):
        """Destroy the device model and its address spaces (their handles become invalid)."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_virtio_destroy(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None

    def add_endpoint(self, endpoint):
        """Register an endpoint; returns its (device-owned) :class:`AddressSpace`."""
        out = c_void_p()
        _check(self.ctx._lib.viommu_virtio_add_endpoint(self.ptr, endpoint, ctypes.byref(out)),
               "viommu_virtio_add_endpoint")
        return AddressSpace._borrow(self.ctx, out.value, within=self._ptr)

    def remove_endpoint(self, endpoint):
        """Unregister an endpoint; its address space (and any handle on it) is gone."""
        space = c_void_p()
        if self.ctx._lib.viommu_virtio_get_as(self.ptr, endpoint, ctypes.byref(space)) != 0:
            space.value = None
        _check(self.ctx._lib.viommu_virtio_remove_endpoint(self.ptr, endpoint), "viommu_virtio_remove_endpoint")
        if space.value:
            self.ctx._destroyed(space.value)

    def address_space(self, endpoint):
        out = c_void_p()
        _check(self.ctx._lib.viommu_virtio_get_as(self.ptr, endpoint, ctypes.byref(out)), "viommu_virtio_get_as")
        return AddressSpace._borrow(self.ctx, out.value, within=self._ptr)

    def add_resv(self, endpoint, first, last, subtype=VirtioResvSubtype.RESERVED):
        _check(self.ctx._lib.viommu_virtio_add_resv(self.ptr, endpoint, first, last, int(subtype)),
               "viommu_virtio_add_resv")

    @property
    def features(self):
        f = c_u64()
        _check(self.ctx._lib.viommu_virtio_get_features(self.ptr, ctypes.byref(f)), "viommu_virtio_get_features")
        return f.value

    def set_driver_features(self, accepted):
        _check(self.ctx._lib.viommu_virtio_set_driver_features(self.ptr, accepted),
               "viommu_virtio_set_driver_features")

    def config_read(self, offset=0, length=VIRTIO_CONFIG_LEN):
        buf = ctypes.create_string_buffer(length)
        _check(self.ctx._lib.viommu_virtio_config_read(self.ptr, offset, buf, length), "viommu_virtio_config_read")
        return buf.raw

    def config_write(self, offset, data):
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        _check(self.ctx._lib.viommu_virtio_config_write(self.ptr, offset, buf, len(data)),
               "viommu_virtio_config_write")

    def handle_request(self, request, out_len):
        """Send one request (bytes: head + body) with ``out_len`` writable bytes;
        returns the bytes the device wrote (empty if it returned the buffers unwritten)."""
        inb = ctypes.create_string_buffer(bytes(request), len(request))
        outb = ctypes.create_string_buffer(out_len)
        iv_in = Iovec(ctypes.cast(inb, c_void_p), len(request))
        iv_out = Iovec(ctypes.cast(outb, c_void_p), out_len)
        n = c_size_t()
        _check(self.ctx._lib.viommu_virtio_handle_request(self.ptr, ctypes.byref(iv_in), 1, ctypes.byref(iv_out),
                                                          1, ctypes.byref(n)), "viommu_virtio_handle_request")
        return outb.raw[:n.value]

    def _simple(self, rtype, body):
        out = self.handle_request(struct.pack("<B3x", rtype) + body, 4)
        return self.STATUS.get(out[0], str(out[0])) if out else None

    def attach(self, domain, endpoint, flags=0):
        """ATTACH; returns the status name (e.g. "OK")."""
        return self._simple(self.T_ATTACH, struct.pack("<III8x", domain, endpoint, flags))

    def detach(self, domain, endpoint):
        return self._simple(self.T_DETACH, struct.pack("<III8x", domain, endpoint, 0))

    def map(self, domain, virt_start, virt_end, phys, flags):
        """MAP; flags: bit 0 READ, 1 WRITE, 2 MMIO."""
        return self._simple(self.T_MAP, struct.pack("<IQQQI", domain, virt_start, virt_end, phys, flags))

    def unmap(self, domain, virt_start, virt_end):
        return self._simple(self.T_UNMAP, struct.pack("<IQQ4x", domain, virt_start, virt_end))

    def probe(self, endpoint):
        """PROBE; returns (status name, raw properties bytes)."""
        out = self.handle_request(struct.pack("<B3xI64x", self.T_PROBE, endpoint), self.probe_size + 4)
        if not out:
            return None, b""
        return self.STATUS.get(out[-4], str(out[-4])), out[:-4]

    def pop_fault(self):
        """The oldest fault record (24 raw bytes) or None."""
        buf = ctypes.create_string_buffer(VIRTIO_FAULT_LEN)
        n = c_size_t()
        _check(self.ctx._lib.viommu_virtio_pop_fault(self.ptr, buf, VIRTIO_FAULT_LEN, ctypes.byref(n)),
               "viommu_virtio_pop_fault")
        return buf.raw[:n.value] if n.value else None

    def reset(self, flags=0):
        _check(self.ctx._lib.viommu_virtio_reset(self.ptr, int(flags)), "viommu_virtio_reset")

    def save(self):
        """viommu_virtio_save(): the device state as a versioned blob (docs/migration.md)."""
        return _save_blob(self.ctx._lib.viommu_virtio_save, self.ptr, "viommu_virtio_save")

    def restore(self, blob):
        """viommu_virtio_restore(): load a blob from save(); raises on EFORMAT (nothing changed)."""
        b = bytes(blob)
        _check(self.ctx._lib.viommu_virtio_restore(self.ptr, b, len(b)), "viommu_virtio_restore")

    def stats(self):
        s = VirtioStats()
        _check(self.ctx._lib.viommu_virtio_get_stats(self.ptr, ctypes.byref(s), ctypes.sizeof(s)),
               "viommu_virtio_get_stats")
        return s


def _save_blob(fn, ptr, name):
    """Call a viommu_*_save(): size query, then the blob as bytes."""
    n = c_size_t(0)
    r = fn(ptr, None, ctypes.byref(n))
    if r not in (0, Error.ESIZE):
        _check(r, name)
    buf = ctypes.create_string_buffer(max(1, n.value))
    _check(fn(ptr, buf, ctypes.byref(n)), name)
    return buf.raw[:n.value]


def viot_build(iommu_kind=ViotIommuKind.PCI, iommu_bdf=0, iommu_segment=0, iommu_base=0, pci_ranges=(),
               mmio_endpoints=()):
    """viommu_viot_build(): the VIOT table as bytes."""
    pr = (ViotPciRange * max(1, len(pci_ranges)))(*pci_ranges)
    me = (ViotMmioEndpoint * max(1, len(mmio_endpoints)))(*mmio_endpoints)
    cfg = ViotConfig(size=ctypes.sizeof(ViotConfig), iommu_kind=int(iommu_kind), iommu_segment=iommu_segment,
                     iommu_bdf=iommu_bdf, iommu_base=iommu_base,
                     pci_ranges=ctypes.cast(pr, P(ViotPciRange)) if pci_ranges else None,
                     n_pci_ranges=len(pci_ranges), n_mmio_endpoints=len(mmio_endpoints),
                     mmio_endpoints=ctypes.cast(me, P(ViotMmioEndpoint)) if mmio_endpoints else None, oem=None)
    n = c_size_t(0)
    r = _lib().viommu_viot_build(ctypes.byref(cfg), None, ctypes.byref(n))
    if r not in (0, Error.ESIZE):
        _check(r, "viommu_viot_build")
    buf = ctypes.create_string_buffer(n.value)
    _check(_lib().viommu_viot_build(ctypes.byref(cfg), buf, ctypes.byref(n)), "viommu_viot_build")
    return buf.raw[:n.value]


# ---------------------------------------------------------------------------
# Helpers shared by the device models
# ---------------------------------------------------------------------------


def _build_bytes(call, what):
    """Run a "query size, then fill" table builder: ``call(buf, byref(len))``."""
    n = c_size_t(0)
    r = call(None, ctypes.byref(n))
    if r not in (0, Error.ESIZE):
        _check(r, what)
    buf = ctypes.create_string_buffer(max(1, n.value))
    _check(call(buf, ctypes.byref(n)), what)
    return buf.raw[:n.value]


# ---------------------------------------------------------------------------
# Interrupt remapping (irq.h), shared by VT-d and AMD-Vi
# ---------------------------------------------------------------------------


class IrqFlag(enum.IntFlag):
    """enum viommu_irq_flag."""
    IOAPIC = 1 << 0
    NO_SID = 1 << 1
    NO_FAULT_RECORD = 1 << 2


class IrqStatus(enum.IntEnum):
    """enum viommu_irq_status."""
    REMAPPED = 1
    UNTRANSLATED = 2
    BLOCKED = 3


class IrqInvalScope(enum.IntEnum):
    """enum viommu_irq_inval_scope."""
    ALL = 0
    INDEX = 1
    DEVICE = 2


class IrqInvalCause(enum.IntEnum):
    """enum viommu_irq_inval_cause."""
    IEC = 1
    INT_TABLE = 2
    ENABLE = 3
    DISABLE = 4
    TABLE_SWITCH = 5
    MODE = 6
    RESET = 7
    RESTORE = 8
    DTE = 9


IRQ_F_ALL = 0x7
IRQ_INDEX_NONE = 0xFFFFFFFF


class IrqRequest(_Struct):
    """struct viommu_irq_request."""
    _fields_ = [("size", c_size_t), ("addr", c_u64), ("data", c_u32), ("flags", c_u32), ("rid", c_u16),
                ("reserved", c_u16 * 3)]


class IrqResult(_Struct):
    """struct viommu_irq_result."""
    _fields_ = [("size", c_size_t), ("status", c_u32), ("dest", c_u32), ("vector", c_u8), ("dest_mode", c_u8),
                ("delivery_mode", c_u8), ("trigger_mode", c_u8), ("redirection_hint", c_u8),
                ("fault_recorded", c_u8), ("reserved0", c_u16), ("fault_reason", c_u32), ("index", c_u32),
                ("msi_addr", c_u64), ("msi_data", c_u32), ("reserved1", c_u32)]


class IrqInval(_Struct):
    """struct viommu_irq_inval."""
    _fields_ = [("size", c_size_t), ("scope", c_u32), ("cause", c_u32), ("first", c_u32), ("last", c_u32),
                ("rid", c_u16), ("reserved", c_u16 * 3)]


IRQ_INVAL_FN = ctypes.CFUNCTYPE(None, c_void_p, ctypes.POINTER(IrqInval))


class IrqNotifierConfig(_Struct):
    """struct viommu_irq_notifier_config."""
    _fields_ = [("size", c_size_t), ("flags", c_u32), ("reserved", c_u32), ("fn", IRQ_INVAL_FN),
                ("opaque", c_void_p)]


STRUCTS.update({"viommu_irq_request": IrqRequest, "viommu_irq_result": IrqResult, "viommu_irq_inval": IrqInval,
                "viommu_irq_notifier_config": IrqNotifierConfig})
ENUMS.update({"viommu_irq_flag": ("VIOMMU_IRQ_F_", IrqFlag),
              "viommu_irq_status": ("VIOMMU_IRQ_", IrqStatus),
              "viommu_irq_inval_scope": ("VIOMMU_IRQ_INVAL_", IrqInvalScope),
              "viommu_irq_inval_cause": ("VIOMMU_IRQ_CAUSE_", IrqInvalCause)})
OPTIONAL_FUNCTIONS.update({
    "viommu_irq_request_from_ioapic_rte": (c_int, [c_u64, c_u16, P(IrqRequest)]),
    "viommu_vtd_remap_irq": (c_int, [c_void_p, P(IrqRequest), P(IrqResult)]),
    "viommu_amdvi_remap_irq": (c_int, [c_void_p, P(IrqRequest), P(IrqResult)]),
    "viommu_vtd_irq_notifier_register": (c_int, [c_void_p, P(IrqNotifierConfig), P(c_void_p)]),
    "viommu_amdvi_irq_notifier_register": (c_int, [c_void_p, P(IrqNotifierConfig), P(c_void_p)]),
    "viommu_irq_notifier_unregister": (None, [c_void_p]),
})


# ---- pri.h: page requests and page responses ------------------------------


class PageReqFlag(enum.IntFlag):
    """enum viommu_page_req_flag."""
    READ = 1 << 0
    WRITE = 1 << 1
    EXEC = 1 << 2
    PRIV = 1 << 3
    LAST = 1 << 4
    PASID_VALID = 1 << 5


PAGE_REQ_ALL = 0x3F


class PageResponseCode(enum.IntEnum):
    """enum viommu_page_response_code (PCIe PRG response codes)."""
    SUCCESS = 0x0
    INVALID = 0x1
    FAILURE = 0xF


class PrqStatus(enum.IntEnum):
    """enum viommu_prq_status: what became of a page request."""
    QUEUED = 0
    FULL = 1
    DISABLED = 2
    INVALID = 3


class PageRequest(_Struct):
    """struct viommu_page_request."""
    _fields_ = [("size", c_size_t), ("rid", c_u16), ("prgi", c_u16), ("flags", c_u32), ("pasid", c_u32),
                ("reserved", c_u32), ("addr", c_u64)]


class PageResponse(_Struct):
    """struct viommu_page_response."""
    _fields_ = [("size", c_size_t), ("rid", c_u16), ("prgi", c_u16), ("flags", c_u32), ("pasid", c_u32),
                ("code", c_u32)]


PAGE_RESPONSE_FN = ctypes.CFUNCTYPE(None, c_void_p, ctypes.POINTER(PageResponse))

STRUCTS.update({"viommu_page_request": PageRequest, "viommu_page_response": PageResponse})
ENUMS.update({"viommu_page_req_flag": ("VIOMMU_PAGE_REQ_", PageReqFlag),
              "viommu_page_response_code": ("VIOMMU_PAGE_RESP_", PageResponseCode),
              "viommu_prq_status": ("VIOMMU_PRQ_", PrqStatus)})
OPTIONAL_FUNCTIONS.update({
    "viommu_vtd_page_request": (c_int, [c_void_p, P(PageRequest)]),
    "viommu_vtd_set_page_response_fn": (c_int, [c_void_p, PAGE_RESPONSE_FN, c_void_p]),
    "viommu_vtd_report_devtlb_error": (c_int, [c_void_p, ctypes.c_uint]),
    "viommu_amdvi_page_request": (c_int, [c_void_p, P(PageRequest)]),
    "viommu_amdvi_set_page_response_fn": (c_int, [c_void_p, PAGE_RESPONSE_FN, c_void_p]),
})


def _page_request(dev, fname, rid, addr, flags, prgi=0, pasid=0):
    q = PageRequest(size=ctypes.sizeof(PageRequest), rid=rid, prgi=prgi, flags=int(flags), pasid=pasid, addr=addr)
    return PrqStatus(_check(getattr(dev.ctx._lib, fname)(dev.ptr, ctypes.byref(q)), fname))


def _set_page_response_fn(dev, fname, fn):
    if fn is None:
        dev._page_response_thunk = None
        _check(getattr(dev.ctx._lib, fname)(dev.ptr, ctypes.cast(None, PAGE_RESPONSE_FN), None), fname)
        return

    def cb(_opaque, rsp):
        try:
            r = rsp.contents
            fn(PageResponse(size=r.size, rid=r.rid, prgi=r.prgi, flags=r.flags, pasid=r.pasid, code=r.code))
        except Exception:  # never let an exception unwind through C
            pass
    thunk = PAGE_RESPONSE_FN(cb)
    _check(getattr(dev.ctx._lib, fname)(dev.ptr, thunk, None), fname)
    dev._page_response_thunk = thunk  # keep alive while registered


def irq_request_from_ioapic_rte(rte, ioapic_sid):
    """viommu_irq_request_from_ioapic_rte(): the :class:`IrqRequest` an IOAPIC sends for ``rte``."""
    out = IrqRequest()
    _check(_lib().viommu_irq_request_from_ioapic_rte(rte, ioapic_sid, ctypes.byref(out)),
           "viommu_irq_request_from_ioapic_rte")
    return out


def _remap_irq(dev, fname, addr, data, rid, flags):
    q = IrqRequest(size=ctypes.sizeof(IrqRequest), addr=addr, data=data, rid=rid, flags=int(flags))
    r = IrqResult(size=ctypes.sizeof(IrqResult))
    _check(getattr(dev.ctx._lib, fname)(dev.ptr, ctypes.byref(q), ctypes.byref(r)), fname)
    return r


class IrqNotifier(_Handle):
    """A registered interrupt notifier: ``fn(IrqInval)`` is called when cached
    interrupt routes are stale (with the context lock held: do not call back in)."""

    def __init__(self, dev, fname, fn):
        self.ctx, self._fn = dev.ctx, fn
        self._thunk = IRQ_INVAL_FN(self._cb)
        cfg = IrqNotifierConfig(size=ctypes.sizeof(IrqNotifierConfig), fn=self._thunk, opaque=None)
        out = c_void_p()
        _check(getattr(self.ctx._lib, fname)(dev.ptr, ctypes.byref(cfg), ctypes.byref(out)), fname)
        self._ptr = out.value
        self.ctx._adopt(self, within=dev._ptr)

    def _cb(self, _o, evp):
        try:
            self._fn(IrqInval.from_buffer_copy(evp.contents))
        except Exception as e:
            self.ctx.callback_errors.append(e)

    def close(self):
        """Unregister the notifier."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_irq_notifier_unregister(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None


# ---------------------------------------------------------------------------
# Intel VT-d (vtd.h)
# ---------------------------------------------------------------------------


class VtdSlCode(enum.IntEnum):
    """enum viommu_vtd_sl_code: fault codes of malformed second-level entries."""
    RSVD = 1
    PS = 2
    HAW = 3


class VtdAgaw(enum.IntFlag):
    """enum viommu_vtd_agaw (SAGAW bits)."""
    AGAW_39 = 1 << 1
    AGAW_48 = 1 << 2
    AGAW_57 = 1 << 3


class VtdFlag(enum.IntFlag):
    """enum viommu_vtd_flag."""
    NO_CACHING_MODE = 1 << 0
    PSI = 1 << 1
    SL_2M = 1 << 2
    SL_1G = 1 << 3
    QI = 1 << 4
    PT = 1 << 5
    DT = 1 << 6
    SCALABLE = 1 << 7
    ALL_ENDPOINTS = 1 << 8
    IR = 1 << 9
    EIM = 1 << 10
    FS = 1 << 11
    FS_1G = 1 << 12
    FS_5L = 1 << 13
    FS_SRS = 1 << 14
    FS_EAFS = 1 << 15
    FS_ERS = 1 << 16
    PRS = 1 << 17
    NEST = 1 << 18


VTD_F_DEFAULT = (VtdFlag.PSI | VtdFlag.SL_2M | VtdFlag.SL_1G | VtdFlag.QI | VtdFlag.PT | VtdFlag.ALL_ENDPOINTS |
                 VtdFlag.IR)
DMAR_F_INTR_REMAP, DMAR_F_X2APIC_OPT_OUT, DMAR_F_DMA_CTRL_PLATFORM_OPT_IN = 0x1, 0x2, 0x4
VTD_SL_2M, VTD_SL_1G, VTD_SL_X = 1, 2, 4
VTD_MMIO_SIZE = 0x1000
VTD_MAX_FRCD = 224


class VtdFaultReason(enum.IntEnum):
    """enum viommu_vtd_fault_reason (VT-d 7.1.3)."""
    ROOT_P = 0x01
    CTX_P = 0x02
    CTX_INV = 0x03
    ADDR_MGAW = 0x04
    WRITE = 0x05
    READ = 0x06
    PTE_ACCESS = 0x07
    ROOT_ACCESS = 0x08
    CTX_ACCESS = 0x09
    ROOT_RSVD = 0x0A
    CTX_RSVD = 0x0B
    PTE_RSVD = 0x0C
    CTX_TT = 0x0D
    SM_RTADDR = 0x30
    SM_TTM0_PASID = 0x31
    SM_ROOT_ACCESS = 0x38
    SM_ROOT_P = 0x39
    SM_ROOT_RSVD = 0x3A
    SM_CTX_ACCESS = 0x40
    SM_CTX_P = 0x41
    SM_CTX_RSVD = 0x42
    SM_CTX_INV = 0x43
    SM_DTE = 0x44
    SM_PASIDE = 0x45
    SM_PASID_SIZE = 0x46
    SM_RID_PASID = 0x48
    SM_PDE_ACCESS = 0x50
    SM_PDE_P = 0x51
    SM_PDE_RSVD = 0x52
    SM_PTE_ACCESS = 0x58
    SM_PTE_P = 0x59
    SM_PTE_RSVD = 0x5A
    SM_PTE_INV = 0x5B
    SM_SRE = 0x5D
    FS_ACCESS = 0x70
    FS_P = 0x71
    FS_RSVD = 0x72
    FS_ROOT = 0x73
    SM_SL_ACCESS = 0x78
    SM_SL_RSVD = 0x7A
    SM_SLPTPTR = 0x7B
    FS_NON_CANONICAL = 0x80
    FS_US = 0x81
    FS_XD = 0x82
    SM_ADDR = 0x83
    SM_WRITE = 0x85
    SM_READ = 0x86
    SM_INTR_ADDR = 0x87
    FS_AD = 0x91


class VtdDevtlbError(enum.IntEnum):
    """enum viommu_vtd_devtlb_error."""
    ITE = 1
    ICE = 2


class VtdEntryKind(enum.IntEnum):
    """enum viommu_vtd_entry_kind: which entry decided a :class:`VtdResolved`."""
    NONE = 0
    ROOT = 1
    CONTEXT = 2
    PASID_DIR = 3
    PASID_TABLE = 4


class DmarScopeType(enum.IntEnum):
    """enum viommu_dmar_scope_type."""
    PCI_ENDPOINT = 1
    PCI_BRIDGE = 2
    IOAPIC = 3
    HPET = 4


class VtdResolved(_Struct):
    """struct viommu_vtd_resolved (the 0.1 result; see :class:`VtdResolvedV2`)."""
    _fields_ = [("mode", c_u32), ("fault_reason", c_u32), ("pasid", c_u32), ("domain_id", c_u16),
                ("fpd", c_u8), ("scalable", c_u8), ("pt", PtConfig)]


class VtdResolvedV2(_Struct):
    """struct viommu_vtd_resolved_v2: also names the entry that decided."""
    _fields_ = [("size", c_size_t), ("mode", c_u32), ("fault_reason", c_u32), ("pasid", c_u32),
                ("domain_id", c_u16), ("fpd", c_u8), ("scalable", c_u8), ("pt", PtConfig),
                ("entry_gpa", c_u64), ("entry_kind", c_u32), ("reserved", c_u32)]


class VtdHw(_Struct):
    """struct viommu_vtd_hw."""
    _fields_ = [("size", c_size_t), ("cap", c_u64), ("ecap", c_u64), ("haw", c_u8), ("reserved", c_u8 * 7)]


class VtdConfig(_Struct):
    """struct viommu_vtd_config."""
    _fields_ = [("size", c_size_t), ("reg_base", c_u64), ("segment", c_u16), ("agaw_mask", c_u8),
                ("mgaw", c_u8), ("haw", c_u8), ("mamv", c_u8), ("nfr", c_u8), ("reserved0", c_u8),
                ("num_domains", c_u32), ("flags", c_u32), ("descs_per_doorbell", c_u32),
                ("nendpoints", c_u32), ("endpoints", P(c_u16))]


class VtdStats(_Struct):
    """struct viommu_vtd_stats."""
    _fields_ = [(n, c_u64) for n in (
        "mmio_reads", "mmio_writes", "descriptors", "queue_errors", "cc_invalidations",
        "iotlb_invalidations", "psi", "waits", "faults_recorded", "faults_fpd", "faults_overflow",
        "fault_events", "inv_events", "resolves", "sync_errors", "irq_remapped", "irq_untranslated",
        "irq_blocked", "iec_invalidations", "irq_notifications", "devtlb_invalidations", "fs_resolves",
        "prq_queued", "prq_dropped", "pr_events", "page_responses", "devtlb_errors", "nested_resolves",
        "offload_binds", "offload_unbinds", "offload_inv_events", "offload_inv_entries",
        "offload_deferred_waits", "offload_faults")]


class DmarScope(_Struct):
    """struct viommu_dmar_scope."""
    _fields_ = [("type", c_u8), ("enum_id", c_u8), ("bus", c_u8), ("devfn", c_u8)]


class DmarDrhd(_Struct):
    """struct viommu_dmar_drhd."""
    _fields_ = [("reg_base", c_u64), ("segment", c_u16), ("include_pci_all", c_u8), ("reserved", c_u8),
                ("nscopes", c_u32), ("scopes", P(DmarScope))]


class DmarAtsr(_Struct):
    """struct viommu_dmar_atsr."""
    _fields_ = [("segment", c_u16), ("all_ports", c_u8), ("reserved", c_u8), ("nscopes", c_u32),
                ("scopes", P(DmarScope))]


class DmarConfig(_Struct):
    """struct viommu_dmar_config."""
    _fields_ = [("size", c_size_t), ("haw", c_u8), ("flags", c_u8), ("reserved", c_u16), ("ndrhd", c_u32),
                ("drhd", P(DmarDrhd)), ("oem", P(AcpiOem)), ("natsr", c_u32), ("atsr", P(DmarAtsr))]


STRUCTS.update({"viommu_vtd_resolved": VtdResolved, "viommu_vtd_resolved_v2": VtdResolvedV2,
                "viommu_vtd_hw": VtdHw, "viommu_vtd_config": VtdConfig,
                "viommu_vtd_stats": VtdStats, "viommu_dmar_scope": DmarScope, "viommu_dmar_drhd": DmarDrhd, "viommu_dmar_atsr": DmarAtsr,
                "viommu_dmar_config": DmarConfig})
ENUMS.update({"viommu_vtd_sl_code": ("VIOMMU_VTD_SL_", VtdSlCode),
              "viommu_vtd_fault_reason": ("VIOMMU_VTD_FR_", VtdFaultReason),
              "viommu_vtd_entry_kind": ("VIOMMU_VTD_ENTRY_", VtdEntryKind),
              "viommu_vtd_devtlb_error": ("VIOMMU_VTD_DEVTLB_", VtdDevtlbError),
              "viommu_vtd_agaw": ("VIOMMU_VTD_", VtdAgaw),
              "viommu_vtd_flag": ("VIOMMU_VTD_F_", VtdFlag),
              "viommu_dmar_scope_type": ("VIOMMU_DMAR_SCOPE_", DmarScopeType)})
OPTIONAL_FUNCTIONS.update({
    "viommu_pt_format_vtd_sl": (c_void_p, []),
    "viommu_vtd_sl_config": (c_int, [ctypes.c_uint, ctypes.c_uint, ctypes.c_uint, c_u32, c_u64, P(PtConfig)]),
    "viommu_vtd_fault_reason_str": (ctypes.c_char_p, [ctypes.c_uint]),
    "viommu_vtd_resolve": (c_int, [_ctx_p, P(VtdHw), c_u64, c_u16, c_u32, P(VtdResolved)]),
    "viommu_vtd_resolve_v2": (c_int, [_ctx_p, P(VtdHw), c_u64, c_u16, c_u32, P(VtdResolvedV2)]),
    "viommu_vtd_create": (c_int, [_ctx_p, P(VtdConfig), P(c_void_p)]),
    "viommu_vtd_destroy": (c_int, [c_void_p]),
    "viommu_vtd_mmio_read": (c_int, [c_void_p, c_u64, ctypes.c_uint, P(c_u64)]),
    "viommu_vtd_mmio_write": (c_int, [c_void_p, c_u64, ctypes.c_uint, c_u64]),
    "viommu_vtd_get_as": (c_int, [c_void_p, c_u16, c_u32, P(c_void_p)]),
    "viommu_vtd_reset": (c_int, [c_void_p]),
    "viommu_vtd_save": (c_int, [c_void_p, c_void_p, P(c_size_t)]),
    "viommu_vtd_restore": (c_int, [c_void_p, c_void_p, c_size_t]),
    "viommu_vtd_process": (c_int, [c_void_p]),
    "viommu_vtd_get_stats": (c_int, [c_void_p, P(VtdStats), c_size_t]),
    "viommu_dmar_build": (c_int, [P(DmarConfig), c_void_p, P(c_size_t)]),
})


class Vtd(_Handle):
    """An Intel VT-d remapping unit. Keyword arguments set :class:`VtdConfig`
    fields (``flags=``, ``nfr=``, ...); ``endpoints=`` is a list of RIDs."""

    def __init__(self, ctx, endpoints=(), **cfg):
        self.ctx = ctx
        self._eps = (c_u16 * max(1, len(endpoints)))(*endpoints)
        c = VtdConfig(size=ctypes.sizeof(VtdConfig), nendpoints=len(endpoints),
                      endpoints=ctypes.cast(self._eps, P(c_u16)) if endpoints else None)
        for k, val in cfg.items():
            setattr(c, k, int(val))
        out = c_void_p()
        _check(ctx._lib.viommu_vtd_create(ctx.ptr, ctypes.byref(c), ctypes.byref(out)), "viommu_vtd_create")
        self._ptr = out.value
        ctx._adopt(self)

    def close(self):
        """Destroy the device model and its address spaces (their handles become invalid)."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_vtd_destroy(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None

    def mmio_read(self, offset, size=8):
        v = c_u64()
        _check(self.ctx._lib.viommu_vtd_mmio_read(self.ptr, offset, size, ctypes.byref(v)), "viommu_vtd_mmio_read")
        return v.value

    def mmio_write(self, offset, size, val):
        _check(self.ctx._lib.viommu_vtd_mmio_write(self.ptr, offset, size, val), "viommu_vtd_mmio_write")

    def remap_irq(self, addr, data, rid, flags=0):
        """viommu_vtd_remap_irq(): an :class:`IrqResult` for the message (``addr``, ``data``) from ``rid``."""
        return _remap_irq(self, "viommu_vtd_remap_irq", addr, data, rid, flags)

    def irq_notifier(self, fn):
        """Register ``fn(IrqInval)`` for "cached interrupt routes are stale"; an :class:`IrqNotifier`."""
        return IrqNotifier(self, "viommu_vtd_irq_notifier_register", fn)

    def page_request(self, rid, addr, flags, prgi=0, pasid=0):
        """viommu_vtd_page_request(): hand a device's page request to the unit; a :class:`PrqStatus`."""
        return _page_request(self, "viommu_vtd_page_request", rid, addr, flags, prgi, pasid)

    def set_page_response_fn(self, fn):
        """Call ``fn(PageResponse)`` for every page group response descriptor (None: stop)."""
        _set_page_response_fn(self, "viommu_vtd_set_page_response_fn", fn)

    def report_devtlb_error(self, kind):
        """viommu_vtd_report_devtlb_error(): ``kind`` is a :class:`VtdDevtlbError` (ITE or ICE)."""
        _check(self.ctx._lib.viommu_vtd_report_devtlb_error(self.ptr, int(kind)), "viommu_vtd_report_devtlb_error")

    def address_space(self, rid, pasid=PASID_NONE):
        """The (device-owned) :class:`AddressSpace` of requester ``rid``."""
        out = c_void_p()
        _check(self.ctx._lib.viommu_vtd_get_as(self.ptr, rid, pasid, ctypes.byref(out)), "viommu_vtd_get_as")
        return AddressSpace._borrow(self.ctx, out.value, within=self._ptr)

    def reset(self):
        _check(self.ctx._lib.viommu_vtd_reset(self.ptr), "viommu_vtd_reset")

    def save(self):
        """viommu_vtd_save(): the device state as a versioned blob (docs/migration.md)."""
        return _save_blob(self.ctx._lib.viommu_vtd_save, self.ptr, "viommu_vtd_save")

    def restore(self, blob):
        """viommu_vtd_restore(): load a blob from save(); raises on EFORMAT (nothing changed)."""
        b = bytes(blob)
        _check(self.ctx._lib.viommu_vtd_restore(self.ptr, b, len(b)), "viommu_vtd_restore")

    def process(self):
        """Process deferred invalidation descriptors; returns how many."""
        return _check(self.ctx._lib.viommu_vtd_process(self.ptr), "viommu_vtd_process")

    def stats(self):
        s = VtdStats()
        _check(self.ctx._lib.viommu_vtd_get_stats(self.ptr, ctypes.byref(s), ctypes.sizeof(s)),
               "viommu_vtd_get_stats")
        return s


def vtd_fault_reason_str(reason):
    """viommu_vtd_fault_reason_str(): short text of a VT-d fault reason."""
    return _lib().viommu_vtd_fault_reason_str(int(reason)).decode()


def vtd_sl_format():
    """The built-in VT-d second-level :class:`PageTableFormat`."""
    return PageTableFormat(ptr=_lib().viommu_pt_format_vtd_sl())


def vtd_sl_config(aw, mgaw, haw, root, fmt_flags=0):
    """viommu_vtd_sl_config(): a :class:`PtConfig` for second-level tables at ``root``."""
    cfg = PtConfig()
    _check(_lib().viommu_vtd_sl_config(aw, mgaw, haw, fmt_flags, root, ctypes.byref(cfg)), "viommu_vtd_sl_config")
    return cfg


def vtd_resolve(ctx, cap, ecap, rtaddr, sid, pasid=PASID_NONE, haw=0):
    """viommu_vtd_resolve(): a :class:`VtdResolved`."""
    hw = VtdHw(size=ctypes.sizeof(VtdHw), cap=cap, ecap=ecap, haw=haw)
    out = VtdResolved()
    _check(ctx._lib.viommu_vtd_resolve(ctx.ptr, ctypes.byref(hw), rtaddr, sid, pasid, ctypes.byref(out)),
           "viommu_vtd_resolve")
    return out


def vtd_resolve_v2(ctx, cap, ecap, rtaddr, sid, pasid=PASID_NONE, haw=0):
    """viommu_vtd_resolve_v2(): a :class:`VtdResolvedV2` (with the deciding entry)."""
    hw = VtdHw(size=ctypes.sizeof(VtdHw), cap=cap, ecap=ecap, haw=haw)
    out = VtdResolvedV2(size=ctypes.sizeof(VtdResolvedV2))
    _check(ctx._lib.viommu_vtd_resolve_v2(ctx.ptr, ctypes.byref(hw), rtaddr, sid, pasid, ctypes.byref(out)),
           "viommu_vtd_resolve_v2")
    return out


def dmar_build(drhds, haw=46, flags=0, atsrs=()):
    """viommu_dmar_build(): ``drhds`` is a list of (reg_base, segment, include_pci_all, [DmarScope]),
    ``atsrs`` a list of (segment, all_ports, [DmarScope])."""
    keep = []
    arr = (DmarDrhd * max(1, len(drhds)))()
    for i, (base, seg, allpci, scopes) in enumerate(drhds):
        sc = (DmarScope * max(1, len(scopes)))(*scopes)
        keep.append(sc)
        arr[i] = DmarDrhd(reg_base=base, segment=seg, include_pci_all=int(allpci), nscopes=len(scopes),
                          scopes=ctypes.cast(sc, P(DmarScope)) if scopes else None)
    atsr = (DmarAtsr * max(1, len(atsrs)))()
    for i, (seg, allports, scopes) in enumerate(atsrs):
        sc = (DmarScope * max(1, len(scopes)))(*scopes)
        keep.append(sc)
        atsr[i] = DmarAtsr(segment=seg, all_ports=int(allports), nscopes=len(scopes),
                           scopes=ctypes.cast(sc, P(DmarScope)) if scopes else None)
    cfg = DmarConfig(size=ctypes.sizeof(DmarConfig), haw=haw, flags=flags, ndrhd=len(drhds),
                     drhd=ctypes.cast(arr, P(DmarDrhd)), oem=None, natsr=len(atsrs),
                     atsr=ctypes.cast(atsr, P(DmarAtsr)) if atsrs else None)
    return _build_bytes(lambda b, n: _lib().viommu_dmar_build(ctypes.byref(cfg), b, n), "viommu_dmar_build")


# ---------------------------------------------------------------------------
# AMD-Vi (amdvi.h)
# ---------------------------------------------------------------------------


class Amdv1Bad(enum.IntEnum):
    """enum viommu_amdv1_bad: fault codes of malformed AMD v1 entries."""
    RSVD = 1
    LEVEL = 2
    PGSIZE = 3
    ADDR = 4


# ---------------------------------------------------------------------------
# x86-64 paging as an I/O page table (x86_pt.h)
# ---------------------------------------------------------------------------


class X86PtFlags(enum.IntFlag):
    """enum viommu_x86_pt_flags."""
    PAGE_1G = 1
    WPE = 2
    EA = 4


class X86PtBad(enum.IntEnum):
    """enum viommu_x86_pt_bad: fault codes of malformed x86-64 entries."""
    RSVD = 1
    HAW = 2


class AmdviEvent(enum.IntEnum):
    """enum viommu_amdvi_event_code."""
    NONE = 0
    ILLEGAL_DEV_TABLE_ENTRY = 1
    IO_PAGE_FAULT = 2
    DEV_TAB_HW_ERROR = 3
    PAGE_TAB_HW_ERROR = 4
    ILLEGAL_COMMAND = 5
    COMMAND_HW_ERROR = 6
    INVALID_DEVICE_REQUEST = 8
    INVALID_PPR_REQUEST = 9


class IvrsDevKind(enum.IntEnum):
    """enum viommu_ivrs_dev_kind."""
    SELECT = 0
    RANGE = 1
    IOAPIC = 2
    HPET = 3


AMDVI_EFR_PREFSUP = 1 << 0
AMDVI_EFR_IASUP = 1 << 6
AMDVI_EFR_PPRSUP = 1 << 1
AMDVI_EFR_XTSUP = 1 << 2
AMDVI_EFR_GASUP = 1 << 7
AMDVI_EFR_NXSUP = 1 << 3
AMDVI_EFR_GTSUP = 1 << 4
AMDVI_EFR_GATS_MASK = 3 << 12
AMDVI_EFR_GATS_5L = 1 << 12
AMDVI_EFR_GLXSUP_MASK = 3 << 14
AMDVI_EFR_PASMAX_MASK = 0x1F << 32
AMDVI_EFR_GIOSUP = 1 << 48
AMDVI_EFR_EPHSUP = 1 << 50
AMDVI_EFR_ALL = (AMDVI_EFR_PREFSUP | AMDVI_EFR_IASUP | AMDVI_EFR_XTSUP | AMDVI_EFR_GASUP | AMDVI_EFR_PPRSUP
                 | AMDVI_EFR_NXSUP
                 | AMDVI_EFR_GTSUP | AMDVI_EFR_GATS_MASK | AMDVI_EFR_GLXSUP_MASK | AMDVI_EFR_PASMAX_MASK
                 | AMDVI_EFR_GIOSUP | AMDVI_EFR_EPHSUP)
AMDVI_EFR_V2 = (AMDVI_EFR_NXSUP | AMDVI_EFR_GTSUP | AMDVI_EFR_GATS_5L | (1 << 14) | (15 << 32)
                | AMDVI_EFR_GIOSUP)
AMDVI_CAP_BLOCK_LEN = 40
AMDVI_MSI_CAP_OFF = 0x18
AMDVI_MMIO_LEN = 0x4000


class AmdviConfig(_Struct):
    """struct viommu_amdvi_config."""
    _fields_ = [("size", c_size_t), ("segment", c_u16), ("bdf", c_u16), ("cap_offset", c_u8), ("cap_next", c_u8),
                ("levels", c_u8), ("va_lg2", c_u8), ("pa_lg2", c_u8), ("dma_remap", c_u8), ("flags", c_u8), ("reserved", c_u8),
                ("mmio_base", c_u64), ("efr_features", c_u64), ("cmds_per_doorbell", c_u32),
                ("reserved2", c_u32)]


class AmdviStats(_Struct):
    """struct viommu_amdvi_stats."""
    _fields_ = [(n, c_u64) for n in (
        "commands", "illegal_commands", "cmd_hw_errors", "doorbell_bound_hits", "events_logged",
        "events_dropped", "events_suppressed", "msis", "dte_resolves", "irq_remapped", "irq_untranslated",
        "irq_blocked", "int_table_invalidations", "irq_notifications", "iotlb_invalidations",
        "ppr_logged", "ppr_dropped", "ppr_completions", "offload_binds", "offload_unbinds",
        "offload_inv_events", "offload_inv_entries", "offload_deferred_waits", "offload_faults")]


class AmdviHw(_Struct):
    """struct viommu_amdvi_hw."""
    _fields_ = [("size", c_size_t), ("levels", c_u8), ("pa_lg2", c_u8), ("dma_remap", c_u8),
                ("reserved", c_u8 * 5), ("efr_features", c_u64)]


class AmdviResolution(_Struct):
    """struct viommu_amdvi_resolution (the 0.1 result; see :class:`AmdviResolutionV2`)."""
    _fields_ = [("mode", c_u32), ("event", c_u32), ("domain_id", c_u16), ("perm", c_u8), ("suppress", c_u8),
                ("reserved", c_u32), ("dte_gpa", c_u64), ("dte", c_u64 * 4), ("pt", PtConfig)]


class AmdviResolutionV2(_Struct):
    """struct viommu_amdvi_resolution_v2."""
    _fields_ = [("size", c_size_t), ("mode", c_u32), ("event", c_u32), ("domain_id", c_u16), ("perm", c_u8), ("suppress", c_u8),
                ("reserved", c_u32), ("dte_gpa", c_u64), ("dte", c_u64 * 4), ("pt", PtConfig),
                ("host_pt", PtConfig)]


class IvrsDev(_Struct):
    """struct viommu_ivrs_dev."""
    _fields_ = [("kind", c_u32), ("devid", c_u16), ("devid_last", c_u16), ("data", c_u8), ("handle", c_u8),
                ("reserved", c_u8 * 6)]


STRUCTS.update({"viommu_amdvi_config": AmdviConfig, "viommu_amdvi_stats": AmdviStats,
                "viommu_amdvi_resolution": AmdviResolution, "viommu_amdvi_resolution_v2": AmdviResolutionV2,
                "viommu_amdvi_hw": AmdviHw,
                "viommu_ivrs_dev": IvrsDev})
ENUMS.update({"viommu_x86_pt_flags": ("VIOMMU_X86_PT_", X86PtFlags),
              "viommu_x86_pt_bad": ("VIOMMU_X86_PT_", X86PtBad),
              "viommu_amdv1_bad": ("VIOMMU_AMDV1_BAD_", Amdv1Bad),
              "viommu_amdvi_event_code": ("VIOMMU_AMDVI_EV_", AmdviEvent),
              "viommu_ivrs_dev_kind": ("VIOMMU_IVRS_DEV_", IvrsDevKind)})
OPTIONAL_FUNCTIONS.update({
    "viommu_pt_format_x86": (c_void_p, [c_int]),
    "viommu_x86_pt_config": (c_int, [ctypes.c_uint, ctypes.c_uint, c_u32, c_u64, P(PtConfig)]),
    "viommu_pt_format_amdv1": (c_void_p, []),
    "viommu_amdv1_pt_config": (c_int, [ctypes.c_uint, c_u64, ctypes.c_uint, ctypes.c_uint, P(PtConfig)]),
    "viommu_amdvi_create": (c_int, [_ctx_p, P(AmdviConfig), P(c_void_p)]),
    "viommu_amdvi_destroy": (c_int, [c_void_p]),
    "viommu_amdvi_pci_cap_read": (c_int, [c_void_p, c_u32, ctypes.c_uint, P(c_u32)]),
    "viommu_amdvi_pci_cap_write": (c_int, [c_void_p, c_u32, ctypes.c_uint, c_u32]),
    "viommu_amdvi_get_mmio_base": (c_int, [c_void_p, P(c_u64), P(c_int)]),
    "viommu_amdvi_mmio_read": (c_int, [c_void_p, c_u64, ctypes.c_uint, P(c_u64)]),
    "viommu_amdvi_mmio_write": (c_int, [c_void_p, c_u64, ctypes.c_uint, c_u64]),
    "viommu_amdvi_process": (c_int, [c_void_p]),
    "viommu_amdvi_get_as": (c_int, [c_void_p, c_u16, P(c_void_p)]),
    "viommu_amdvi_get_as_pasid": (c_int, [c_void_p, c_u16, c_u32, P(c_void_p)]),
    "viommu_amdvi_reset": (c_int, [c_void_p]),
    "viommu_amdvi_save": (c_int, [c_void_p, c_void_p, P(c_size_t)]),
    "viommu_amdvi_restore": (c_int, [c_void_p, c_void_p, c_size_t]),
    "viommu_amdvi_get_stats": (c_int, [c_void_p, P(AmdviStats), c_size_t]),
    "viommu_amdvi_resolve": (c_int, [_ctx_p, c_u64, c_u16, c_u64, ctypes.c_uint, ctypes.c_uint,
                                     P(AmdviResolution)]),
    "viommu_amdvi_resolve_v2": (c_int, [_ctx_p, P(AmdviHw), c_u64, c_u16, P(AmdviResolutionV2)]),
    "viommu_amdvi_resolve_pasid": (c_int, [_ctx_p, P(AmdviHw), c_u64, c_u16, c_u32, P(AmdviResolutionV2)]),
    "viommu_amdvi_build_ivrs": (c_int, [c_void_p, P(IvrsDev), c_size_t, P(AcpiOem), c_void_p, P(c_size_t)]),
})


class Amdvi(_Handle):
    """An AMD-Vi IOMMU. Keyword arguments set :class:`AmdviConfig` fields
    (``bdf=``, ``levels=``, ``dma_remap=``, ``mmio_base=``, ``efr_features=``, ...)."""

    def __init__(self, ctx, **cfg):
        self.ctx = ctx
        c = AmdviConfig(size=ctypes.sizeof(AmdviConfig))
        for k, val in cfg.items():
            setattr(c, k, int(val))
        out = c_void_p()
        _check(ctx._lib.viommu_amdvi_create(ctx.ptr, ctypes.byref(c), ctypes.byref(out)), "viommu_amdvi_create")
        self._ptr = out.value
        ctx._adopt(self)

    def close(self):
        """Destroy the device model and its address spaces (their handles become invalid)."""
        if self._ptr and self.ctx._ptr:
            ptr = self._ptr
            self.ctx._lib.viommu_amdvi_destroy(ptr)
            self.ctx._destroyed(ptr)
        self._ptr = None

    def pci_cap_read(self, off, size=4):
        v = c_u32()
        _check(self.ctx._lib.viommu_amdvi_pci_cap_read(self.ptr, off, size, ctypes.byref(v)),
               "viommu_amdvi_pci_cap_read")
        return v.value

    def pci_cap_write(self, off, size, val):
        _check(self.ctx._lib.viommu_amdvi_pci_cap_write(self.ptr, off, size, val), "viommu_amdvi_pci_cap_write")

    def mmio_base(self):
        """(base, enabled) as the guest programmed the capability block."""
        b, en = c_u64(), c_int()
        _check(self.ctx._lib.viommu_amdvi_get_mmio_base(self.ptr, ctypes.byref(b), ctypes.byref(en)),
               "viommu_amdvi_get_mmio_base")
        return b.value, bool(en.value)

    def mmio_read(self, off, size=8):
        v = c_u64()
        _check(self.ctx._lib.viommu_amdvi_mmio_read(self.ptr, off, size, ctypes.byref(v)), "viommu_amdvi_mmio_read")
        return v.value

    def mmio_write(self, off, size, val):
        _check(self.ctx._lib.viommu_amdvi_mmio_write(self.ptr, off, size, val), "viommu_amdvi_mmio_write")

    def remap_irq(self, addr, data, devid, flags=0):
        """viommu_amdvi_remap_irq(): an :class:`IrqResult` for the message (``addr``, ``data``) from ``devid``."""
        return _remap_irq(self, "viommu_amdvi_remap_irq", addr, data, devid, flags)

    def irq_notifier(self, fn):
        """Register ``fn(IrqInval)`` for "cached interrupt routes are stale"; an :class:`IrqNotifier`."""
        return IrqNotifier(self, "viommu_amdvi_irq_notifier_register", fn)

    def page_request(self, rid, addr, flags, prgi=0, pasid=0):
        """viommu_amdvi_page_request(): hand a device's page request to the PPR log; a :class:`PrqStatus`."""
        return _page_request(self, "viommu_amdvi_page_request", rid, addr, flags, prgi, pasid)

    def set_page_response_fn(self, fn):
        """Call ``fn(PageResponse)`` for every COMPLETE_PPR_REQUEST command (None: stop)."""
        _set_page_response_fn(self, "viommu_amdvi_set_page_response_fn", fn)

    def process(self):
        """Process deferred commands; returns how many."""
        return _check(self.ctx._lib.viommu_amdvi_process(self.ptr), "viommu_amdvi_process")

    def address_space(self, devid, pasid=None):
        """Address space of DeviceID `devid`; with `pasid`, of its requests with that PASID."""
        out = c_void_p()
        if pasid is None:
            _check(self.ctx._lib.viommu_amdvi_get_as(self.ptr, devid, ctypes.byref(out)), "viommu_amdvi_get_as")
        else:
            _check(self.ctx._lib.viommu_amdvi_get_as_pasid(self.ptr, devid, pasid, ctypes.byref(out)),
                   "viommu_amdvi_get_as_pasid")
        return AddressSpace._borrow(self.ctx, out.value, within=self._ptr)

    def reset(self):
        _check(self.ctx._lib.viommu_amdvi_reset(self.ptr), "viommu_amdvi_reset")

    def save(self):
        """viommu_amdvi_save(): the device state as a versioned blob (docs/migration.md)."""
        return _save_blob(self.ctx._lib.viommu_amdvi_save, self.ptr, "viommu_amdvi_save")

    def restore(self, blob):
        """viommu_amdvi_restore(): load a blob from save(); raises on EFORMAT (nothing changed)."""
        b = bytes(blob)
        _check(self.ctx._lib.viommu_amdvi_restore(self.ptr, b, len(b)), "viommu_amdvi_restore")

    def stats(self):
        s = AmdviStats()
        _check(self.ctx._lib.viommu_amdvi_get_stats(self.ptr, ctypes.byref(s), ctypes.sizeof(s)),
               "viommu_amdvi_get_stats")
        return s

    def build_ivrs(self, devs=()):
        """viommu_amdvi_build_ivrs(): the IVRS table as bytes (``devs``: :class:`IvrsDev` list)."""
        arr = (IvrsDev * max(1, len(devs)))(*devs)
        return _build_bytes(lambda b, n: self.ctx._lib.viommu_amdvi_build_ivrs(
            self.ptr, ctypes.cast(arr, P(IvrsDev)), len(devs), None, b, n), "viommu_amdvi_build_ivrs")


def x86_format(ea=False):
    """The built-in x86-64 :class:`PageTableFormat` (``ea``: the EAFE variant)."""
    return PageTableFormat(ptr=_lib().viommu_pt_format_x86(1 if ea else 0))


def x86_pt_config(levels, root, flags=0, pa_lg2=52):
    """viommu_x86_pt_config(): a :class:`PtConfig` for ``levels``-level x86-64 paging at ``root``."""
    cfg = PtConfig()
    _check(_lib().viommu_x86_pt_config(levels, pa_lg2, int(flags), root, ctypes.byref(cfg)),
           "viommu_x86_pt_config")
    return cfg


def amdv1_format():
    """The built-in AMD v1 :class:`PageTableFormat`."""
    return PageTableFormat(ptr=_lib().viommu_pt_format_amdv1())


def amdv1_pt_config(mode, root, perm=Perm.RW, pa_lg2=48):
    """viommu_amdv1_pt_config(): a :class:`PtConfig` for a DTE with ``mode`` levels at ``root``."""
    cfg = PtConfig()
    _check(_lib().viommu_amdv1_pt_config(mode, root, int(perm), pa_lg2, ctypes.byref(cfg)),
           "viommu_amdv1_pt_config")
    return cfg


def amdvi_resolve(ctx, devtab_reg, devid, efr_features=AMDVI_EFR_ALL, levels=6, pa_lg2=48):
    """viommu_amdvi_resolve() (the 0.1 form; ``efr_features`` is ignored):
    an :class:`AmdviResolution`."""
    out = AmdviResolution()
    _check(ctx._lib.viommu_amdvi_resolve(ctx.ptr, devtab_reg, devid, efr_features, levels, pa_lg2,
                                         ctypes.byref(out)), "viommu_amdvi_resolve")
    return out


def amdvi_resolve_v2(ctx, devtab_reg, devid, levels=0, pa_lg2=0, dma_remap=1, efr_features=0):
    """viommu_amdvi_resolve_v2(): an :class:`AmdviResolutionV2`. ``levels``,
    ``pa_lg2``, ``dma_remap`` and ``efr_features`` are the :class:`AmdviHw`
    members (0 = the defaults of :class:`AmdviConfig`: 6 levels, 48 bits)."""
    hw = AmdviHw(size=ctypes.sizeof(AmdviHw), levels=levels, pa_lg2=pa_lg2, dma_remap=dma_remap,
                 efr_features=efr_features)
    out = AmdviResolutionV2(size=ctypes.sizeof(AmdviResolutionV2))
    _check(ctx._lib.viommu_amdvi_resolve_v2(ctx.ptr, ctypes.byref(hw), devtab_reg, devid, ctypes.byref(out)),
           "viommu_amdvi_resolve_v2")
    return out


def amdvi_resolve_pasid(ctx, devtab_reg, devid, pasid, levels=0, pa_lg2=0, dma_remap=1, efr_features=0):
    """viommu_amdvi_resolve_pasid(): :func:`amdvi_resolve_v2` for requests
    with PASID ``pasid`` (``PASID_NONE``: without PASID)."""
    hw = AmdviHw(size=ctypes.sizeof(AmdviHw), levels=levels, pa_lg2=pa_lg2, dma_remap=dma_remap,
                 efr_features=efr_features)
    out = AmdviResolutionV2(size=ctypes.sizeof(AmdviResolutionV2))
    _check(ctx._lib.viommu_amdvi_resolve_pasid(ctx.ptr, ctypes.byref(hw), devtab_reg, devid, pasid,
                                               ctypes.byref(out)), "viommu_amdvi_resolve_pasid")
    return out


# ---------------------------------------------------------------------------
# IOVA tree (iova_tree.h)
# ---------------------------------------------------------------------------


class IovaMap(_Struct):
    """struct viommu_iova_map."""
    _fields_ = [("first", c_u64), ("last", c_u64), ("addr", c_u64), ("perm", c_u32), ("reserved", c_u32)]


IOVA_TREE_FN = ctypes.CFUNCTYPE(c_int, c_void_p, P(IovaMap))
STRUCTS["viommu_iova_map"] = IovaMap
FUNCTIONS.update({
    "viommu_iova_tree_create": (c_int, [P(HostOps), c_void_p, P(c_void_p)]),
    "viommu_iova_tree_destroy": (None, [c_void_p]),
    "viommu_iova_tree_insert": (c_int, [c_void_p, c_u64, c_u64, c_u64, c_u32]),
    "viommu_iova_tree_remove": (c_int, [c_void_p, c_u64, c_u64]),
    "viommu_iova_tree_lookup": (c_int, [c_void_p, c_u64, P(IovaMap)]),
    "viommu_iova_tree_first_overlap": (c_int, [c_void_p, c_u64, c_u64, P(IovaMap)]),
    "viommu_iova_tree_foreach": (c_int, [c_void_p, c_u64, c_u64, IOVA_TREE_FN, c_void_p]),
    "viommu_iova_tree_count": (c_u64, [c_void_p]),
})
if lib is not None:
    load()


class IovaTree(_Handle):
    """An interval map of non-overlapping inclusive ranges (standalone: no context)."""

    def __init__(self):
        self._lib = _lib()
        out = c_void_p()
        _check(self._lib.viommu_iova_tree_create(None, None, ctypes.byref(out)), "viommu_iova_tree_create")
        self._ptr = out.value

    def close(self):
        if self._ptr:
            self._lib.viommu_iova_tree_destroy(self._ptr)
        self._ptr = None

    def insert(self, first, last, addr, perm=Perm.RW):
        _check(self._lib.viommu_iova_tree_insert(self.ptr, first, last, addr, int(perm)), "viommu_iova_tree_insert")

    def remove(self, first, last):
        _check(self._lib.viommu_iova_tree_remove(self.ptr, first, last), "viommu_iova_tree_remove")

    def lookup(self, iova):
        """The :class:`IovaMap` containing ``iova`` or None."""
        m = IovaMap()
        r = self._lib.viommu_iova_tree_lookup(self.ptr, iova, ctypes.byref(m))
        if r == Error.ENOENT:
            return None
        _check(r, "viommu_iova_tree_lookup")
        return m

    def first_overlap(self, first, last):
        m = IovaMap()
        r = self._lib.viommu_iova_tree_first_overlap(self.ptr, first, last, ctypes.byref(m))
        if r == Error.ENOENT:
            return None
        _check(r, "viommu_iova_tree_first_overlap")
        return m

    def entries(self, first=0, last=(1 << 64) - 1):
        """Entries overlapping [first, last] in IOVA order."""
        out = []

        def visit(_o, mp):
            out.append(IovaMap.from_buffer_copy(mp.contents))
            return 0
        cb = IOVA_TREE_FN(visit)
        _check(self._lib.viommu_iova_tree_foreach(self.ptr, first, last, cb, None), "viommu_iova_tree_foreach")
        return out

    def __len__(self):
        return self._lib.viommu_iova_tree_count(self.ptr)


__all__ += ["VirtioIommu", "viot_build", "Vtd", "VtdConfig", "VtdStats", "VtdResolved", "VtdFlag", "VtdAgaw",
            "VtdSlCode", "DmarScope", "DmarScopeType", "dmar_build", "vtd_sl_config", "vtd_sl_format",
            "vtd_resolve", "VtdFaultReason", "VtdEntryKind", "vtd_fault_reason_str", "FaultFlag",
            "VirtioBlockCode", "AmdviHw", "AmdviResolutionV2", "VtdResolvedV2", "vtd_resolve_v2",
            "amdvi_resolve_v2", "amdvi_resolve_pasid",
            "Amdvi", "AmdviConfig", "AmdviStats", "AmdviResolution", "AmdviEvent", "Amdv1Bad",
            "IvrsDev", "IvrsDevKind", "amdv1_pt_config", "amdv1_format", "amdvi_resolve",
            "X86PtFlags", "X86PtBad", "x86_format", "x86_pt_config", "IovaTree", "IovaMap"]


# ---- stage-1 offload (offload.h) ---------------------------------------------

class OffloadMode(enum.IntEnum):
    """enum viommu_offload_mode."""
    NONE = 0
    S1 = 1


class OffloadEventKind(enum.IntEnum):
    """enum viommu_offload_event_kind."""
    BIND = 1
    BYPASS = 2
    BLOCK = 3
    UNBIND = 4
    INVALIDATE = 5


class OffloadFormat(enum.IntEnum):
    """enum viommu_offload_format (= enum iommu_hwpt_data_type)."""
    NONE = 0
    VTD_S1 = 1
    AMD_GUEST = 3


class OffloadVtdS1Flags(enum.IntFlag):
    """enum viommu_offload_vtd_s1_flags (= enum iommu_hwpt_vtd_s1_flags)."""
    SRE = 1 << 0
    EAFE = 1 << 1
    WPE = 1 << 2


class OffloadEventFlags(enum.IntFlag):
    """enum viommu_offload_event_flags."""
    UNSUPPORTED = 1 << 0
    RESTORED = 1 << 1
    DEVTLB = 1 << 2
    NESTED = 1 << 3


class VtdHostFlags(enum.IntFlag):
    """enum viommu_vtd_host_flags."""
    ERRATA_772415 = 1 << 0
    FS_ONLY = 1 << 16


OFFLOAD_PENDING = 1
OFFLOAD_INV_LEAF = 1


class OffloadVtdS1(_Struct):
    """struct viommu_offload_vtd_s1 (the layout of struct iommu_hwpt_vtd_s1)."""
    _fields_ = [("flags", c_u64), ("pgtbl_addr", c_u64), ("addr_width", c_u32), ("reserved", c_u32)]


class OffloadAmdGuest(_Struct):
    """struct viommu_offload_amd_guest (the layout of struct iommu_hwpt_amd_guest)."""
    _fields_ = [("dte", c_u64 * 4)]


class OffloadInv(_Struct):
    """struct viommu_offload_inv (the layout of struct iommu_hwpt_vtd_s1_invalidate)."""
    _fields_ = [("addr", c_u64), ("npages", c_u64), ("flags", c_u32), ("reserved", c_u32)]


class OffloadEvent(_Struct):
    """struct viommu_offload_event: one offload event."""
    _fields_ = [("size", c_size_t), ("kind", c_u32), ("format", c_u32), ("flags", c_u32), ("segment", c_u16),
                ("rid", c_u16), ("pasid", c_u32), ("guest_domain_id", c_u32), ("bind_id", c_u64),
                ("old_bind_id", c_u64), ("seq", c_u64), ("vtd", OffloadVtdS1),
                ("entries", ctypes.POINTER(OffloadInv)), ("nentries", c_u32), ("reason", c_u32),
                ("amd", OffloadAmdGuest), ("parent_pgtbl_addr", c_u64), ("parent_domain_id", c_u32),
                ("parent_addr_width", c_u32)]

    def entry_list(self):
        """The INVALIDATE entries as a list of :class:`OffloadInv` copies."""
        return [OffloadInv.from_buffer_copy(self.entries[i]) for i in range(self.nentries)]


OFFLOAD_FN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p, ctypes.POINTER(OffloadEvent))


class OffloadConfig(_Struct):
    """struct viommu_offload_config."""
    _fields_ = [("size", c_size_t), ("mode", c_u32), ("flags", c_u32), ("fn", OFFLOAD_FN), ("opaque", c_void_p)]


class VtdHostCaps(_Struct):
    """struct viommu_vtd_host_caps (from iommufd's struct iommu_hw_info_vtd)."""
    _fields_ = [("size", c_size_t), ("flags", c_u32), ("reserved", c_u32), ("cap", c_u64), ("ecap", c_u64)]


class AmdviHostCaps(_Struct):
    """struct viommu_amdvi_host_caps (from iommufd's struct iommu_hw_info_amd)."""
    _fields_ = [("size", c_size_t), ("efr", c_u64), ("efr2", c_u64)]


class OffloadFault(_Struct):
    """struct viommu_offload_fault: a host stage-1 fault for the guest."""
    _fields_ = [("size", c_size_t), ("rid", c_u16), ("reserved0", c_u16), ("pasid", c_u32), ("addr", c_u64),
                ("access", c_u32), ("reason", c_u32)]


STRUCTS.update({"viommu_offload_vtd_s1": OffloadVtdS1, "viommu_offload_inv": OffloadInv,
                "viommu_offload_event": OffloadEvent, "viommu_offload_config": OffloadConfig,
                "viommu_vtd_host_caps": VtdHostCaps, "viommu_offload_fault": OffloadFault,
                "viommu_offload_amd_guest": OffloadAmdGuest, "viommu_amdvi_host_caps": AmdviHostCaps})
ENUMS.update({"viommu_offload_mode": ("VIOMMU_OFFLOAD_", OffloadMode),
              "viommu_offload_event_kind": ("VIOMMU_OFFLOAD_EV_", OffloadEventKind),
              "viommu_offload_format": ("VIOMMU_OFFLOAD_FMT_", OffloadFormat),
              "viommu_offload_vtd_s1_flags": ("VIOMMU_OFFLOAD_VTD_S1_", OffloadVtdS1Flags),
              "viommu_offload_event_flags": ("VIOMMU_OFFLOAD_F_", OffloadEventFlags),
              "viommu_vtd_host_flags": ("VIOMMU_VTD_HOST_", VtdHostFlags)})
OPTIONAL_FUNCTIONS.update({
    "viommu_as_set_offload": (c_int, [c_void_p, P(OffloadConfig)]),
    "viommu_as_get_offload": (c_int, [c_void_p]),
    "viommu_vtd_set_host_caps": (c_int, [c_void_p, P(VtdHostCaps)]),
    "viommu_vtd_offload_done": (c_int, [c_void_p, c_u64]),
    "viommu_vtd_offload_fault": (c_int, [c_void_p, P(OffloadFault)]),
    "viommu_vtd_get_nest_parent_as": (c_int, [c_void_p, c_u16, P(c_void_p)]),
    "viommu_amdvi_set_host_caps": (c_int, [c_void_p, P(AmdviHostCaps)]),
    "viommu_amdvi_offload_done": (c_int, [c_void_p, c_u64]),
    "viommu_amdvi_offload_fault": (c_int, [c_void_p, P(OffloadFault)]),
})


def _as_set_offload(self, mode, fn=None):
    """viommu_as_set_offload(): ``fn(event)`` receives an :class:`OffloadEvent`
    copy (INVALIDATE entries via ``event.entry_list()`` inside the call) and
    returns 0, :data:`OFFLOAD_PENDING` or a negative value."""
    def thunk(_opaque, _as, ev):
        try:
            r = fn(ev.contents)
            return int(r or 0)
        except Exception:  # noqa: BLE001 - a callback must not unwind through C
            return -1
    cb = OFFLOAD_FN(thunk) if fn else OFFLOAD_FN()
    c = OffloadConfig(size=ctypes.sizeof(OffloadConfig), mode=int(mode), flags=0, fn=cb, opaque=None)
    _check(self.ctx._lib.viommu_as_set_offload(self.ptr, ctypes.byref(c)), "viommu_as_set_offload")
    self._offload_thunk = cb  # keep alive while the library may call it


def _as_get_offload(self):
    """viommu_as_get_offload(): the :class:`OffloadMode`."""
    r = self.ctx._lib.viommu_as_get_offload(self.ptr)
    _check(min(r, 0), "viommu_as_get_offload")
    return OffloadMode(r)


def _vtd_set_host_caps(self, cap, ecap, flags=0):
    """viommu_vtd_set_host_caps(): clamp the guest to the host (iommu_hw_info_vtd values)."""
    c = VtdHostCaps(size=ctypes.sizeof(VtdHostCaps), flags=int(flags), cap=cap, ecap=ecap)
    _check(self.ctx._lib.viommu_vtd_set_host_caps(self.ptr, ctypes.byref(c)), "viommu_vtd_set_host_caps")


def _vtd_offload_done(self, seq):
    """viommu_vtd_offload_done(): confirm host invalidations up to ``seq``; returns descriptors pending."""
    r = self.ctx._lib.viommu_vtd_offload_done(self.ptr, seq)
    _check(min(r, 0), "viommu_vtd_offload_done")
    return r


def _vtd_offload_fault(self, rid, pasid, addr, access, reason=0):
    """viommu_vtd_offload_fault(): record a host stage-1 fault for the guest."""
    f = OffloadFault(size=ctypes.sizeof(OffloadFault), rid=rid, pasid=pasid, addr=addr, access=int(access),
                     reason=int(reason))
    _check(self.ctx._lib.viommu_vtd_offload_fault(self.ptr, ctypes.byref(f)), "viommu_vtd_offload_fault")


def _vtd_get_nest_parent_as(self, did):
    """viommu_vtd_get_nest_parent_as(): the (device-owned) :class:`AddressSpace` of the guest's
    second stage of domain ``did``, the nest parent of nested binds."""
    out = c_void_p()
    _check(self.ctx._lib.viommu_vtd_get_nest_parent_as(self.ptr, did, ctypes.byref(out)),
           "viommu_vtd_get_nest_parent_as")
    return AddressSpace._borrow(self.ctx, out.value, within=self._ptr)


def _amdvi_set_host_caps(self, efr, efr2=0):
    """viommu_amdvi_set_host_caps(): clamp the guest's EFR to the host's (iommu_hw_info_amd values)."""
    c = AmdviHostCaps(size=ctypes.sizeof(AmdviHostCaps), efr=efr, efr2=efr2)
    _check(self.ctx._lib.viommu_amdvi_set_host_caps(self.ptr, ctypes.byref(c)), "viommu_amdvi_set_host_caps")


def _amdvi_offload_done(self, seq):
    """viommu_amdvi_offload_done(): confirm host invalidations up to ``seq``; 1 if commands remain."""
    r = self.ctx._lib.viommu_amdvi_offload_done(self.ptr, seq)
    _check(min(r, 0), "viommu_amdvi_offload_done")
    return r


def _amdvi_offload_fault(self, devid, addr, access, pasid=PASID_NONE, reason=0):
    """viommu_amdvi_offload_fault(): log a host fault in the guest's event log."""
    f = OffloadFault(size=ctypes.sizeof(OffloadFault), rid=devid, pasid=pasid, addr=addr, access=int(access),
                     reason=int(reason))
    _check(self.ctx._lib.viommu_amdvi_offload_fault(self.ptr, ctypes.byref(f)), "viommu_amdvi_offload_fault")


Amdvi.set_host_caps = _amdvi_set_host_caps
Amdvi.offload_done = _amdvi_offload_done
Amdvi.offload_fault = _amdvi_offload_fault
AddressSpace.set_offload = _as_set_offload
AddressSpace.get_offload = _as_get_offload
Vtd.set_host_caps = _vtd_set_host_caps
Vtd.offload_done = _vtd_offload_done
Vtd.offload_fault = _vtd_offload_fault
Vtd.get_nest_parent_as = _vtd_get_nest_parent_as

__all__ += ["OffloadMode", "OffloadEventKind", "OffloadFormat", "OffloadVtdS1Flags", "OffloadEventFlags",
            "VtdHostFlags", "OffloadVtdS1", "OffloadInv", "OffloadEvent", "OffloadConfig", "VtdHostCaps",
            "OffloadFault", "OFFLOAD_PENDING", "OFFLOAD_INV_LEAF", "OffloadAmdGuest", "AmdviHostCaps"]
