//! Python bindings: bencode (`lt.bencode`, `lt.bdecode`).
//!
//! Both mirror the reference module exactly, quirks included:
//! * `bdecode` accepts libtorrent's dialect (leading zeros, `i-0e`, trailing
//!   data, unsorted keys), returns dictionaries with `bytes` keys in sorted
//!   order (the last of duplicate keys wins) and integers that do not fit in
//!   64 bits as 0; malformed input raises `RuntimeError("<message>
//!   [bdecode:<code>]")` with libtorrent's bdecode error codes.
//! * `bencode` converts like libtorrent's `entry` converter: dict, list,
//!   bytes/bytearray, str (deprecated), int, int-tuple (raw bytes, one per
//!   element), anything else (deprecated) becomes an empty string.

use lt_bencode::{ErrorKind, Kind, Limits, Node};
use pyo3::exceptions::{
    PyDeprecationWarning, PyOverflowError, PyRecursionError, PyRuntimeError, PyTypeError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyInt, PyList, PyString, PyTuple, PyType};

/// libtorrent's bdecode limits as the Python binding uses them: depth 100,
/// 2,000,000 parse steps, trailing data ignored.
const BDECODE_LIMITS: Limits = Limits {
    max_depth: 100,
    max_tokens: 2_000_000,
    strict_key_order: false,
    allow_trailing: true,
};

/// Inputs at least this large are decoded with the GIL released.
const DETACH_THRESHOLD: usize = 1 << 16;

/// Deepest nesting `bencode` converts (without recursion); a deeper or
/// cyclic structure raises `RecursionError` (the reference crashes).
const MAX_ENCODE_DEPTH: usize = 100_000;

const DEPRECATED: &std::ffi::CStr =
    c"constructing a bencode entry from anything but int, dict, list, bytes and int-tuple is deprecated";

static ARGUMENT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The exception type Boost.Python raises when a call's arguments match no
/// signature (`Boost.Python.ArgumentError`, a `TypeError`).
pub(crate) fn argument_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let t = ARGUMENT_ERROR.get_or_try_init(py, || {
        PyErr::new_type(
            py,
            c"Boost.Python.ArgumentError",
            None,
            Some(&py.get_type::<PyTypeError>()),
            None,
        )
    })?;
    Ok(t.bind(py))
}

/// Builds Boost.Python's "argument types did not match" error for a call of
/// `libtorrent.<func>` with positional `args`.
pub(crate) fn argument_error(
    py: Python<'_>,
    func: &str,
    args: &Bound<'_, PyTuple>,
    signature: &str,
) -> PyResult<PyErr> {
    let mut names = Vec::with_capacity(args.len());
    for a in args.iter() {
        names.push(a.get_type().name()?.to_string());
    }
    let msg = format!(
        "Python argument types in\n    libtorrent.{func}({})\ndid not match C++ signature:\n    {signature}",
        names.join(", ")
    );
    let t = argument_error_type(py)?;
    Ok(PyErr::from_value(t.call1((msg,))?))
}

/// libtorrent's bdecode error code and message for a decoding error.
fn bdecode_error(kind: ErrorKind) -> PyErr {
    let (code, msg) = match kind {
        ErrorKind::ExpectedDigit | ErrorKind::ExpectedStringKey => {
            (1, "expected digit in bencoded string")
        }
        ErrorKind::ExpectedColon => (2, "expected colon in bencoded string"),
        ErrorKind::UnexpectedEof => (3, "unexpected end of file in bencoded string"),
        ErrorKind::DepthExceeded => (5, "bencoded nesting depth exceeded"),
        ErrorKind::TokenLimitExceeded => (6, "bencoded item count limit exceeded"),
        ErrorKind::Overflow => (7, "integer overflow"),
        // The compat decoder reports only the kinds above; anything else is
        // a malformed value.
        ErrorKind::ExpectedValue
        | ErrorKind::LeadingZero
        | ErrorKind::NegativeZero
        | ErrorKind::EmptyInteger
        | ErrorKind::UnsortedKeys
        | ErrorKind::DuplicateKey
        | ErrorKind::TrailingData => (
            4,
            "expected value (list, dict, int or string) in bencoded string",
        ),
    };
    PyRuntimeError::new_err(format!("{msg} [bdecode:{code}]"))
}

/// Dictionary keys repeat a lot (every file of a torrent has `length` and
/// `path`): a small direct-mapped cache shares one `bytes` object per key.
const KEY_CACHE_SLOTS: usize = 256;
const KEY_CACHE_MAX_LEN: usize = 32;

struct ToPy<'py, 'a> {
    py: Python<'py>,
    keys: Vec<Option<(&'a [u8], Bound<'py, PyBytes>)>>,
}

impl<'py, 'a> ToPy<'py, 'a> {
    fn new(py: Python<'py>) -> Self {
        ToPy {
            py,
            keys: vec![None; KEY_CACHE_SLOTS],
        }
    }

    fn key(&mut self, k: &'a [u8]) -> Bound<'py, PyBytes> {
        if k.len() > KEY_CACHE_MAX_LEN {
            return PyBytes::new(self.py, k);
        }
        // FNV-1a over the key picks the slot.
        let h = k.iter().fold(0x811c_9dc5u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let slot = h as usize % KEY_CACHE_SLOTS;
        if let Some(Some((cached, obj))) = self.keys.get(slot) {
            if *cached == k {
                return obj.clone();
            }
        }
        let obj = PyBytes::new(self.py, k);
        if let Some(entry) = self.keys.get_mut(slot) {
            *entry = Some((k, obj.clone()));
        }
        obj
    }

    /// Converts a decoded value into Python objects (depth bounded by
    /// `BDECODE_LIMITS.max_depth`).
    fn convert(&mut self, n: Node<'_, 'a>) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match n.kind() {
            // libtorrent reads an integer that does not fit (its magnitude
            // above i64::MAX, which includes i64::MIN) as 0.
            Kind::Int => match n.as_int() {
                Some(v) if v != i64::MIN => v.into_pyobject(py)?.into_any(),
                _ => 0i64.into_pyobject(py)?.into_any(),
            },
            Kind::Bytes => PyBytes::new(py, n.as_bytes().unwrap_or(&[])).into_any(),
            Kind::List => {
                let mut items = Vec::with_capacity(n.len());
                for item in n.list_iter() {
                    items.push(self.convert(item)?);
                }
                PyList::new(py, items)?.into_any()
            }
            Kind::Dict => {
                let dict = PyDict::new(py);
                let mut entries: Vec<(&'a [u8], Node<'_, 'a>)> = n.dict_iter().collect();
                if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
                    // Sorted keys; of equal keys the last one wins (the
                    // stable sort keeps input order among equals).
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                    let mut kept: Vec<(&'a [u8], Node<'_, 'a>)> = Vec::with_capacity(entries.len());
                    for e in entries {
                        match kept.last_mut() {
                            Some(last) if last.0 == e.0 => *last = e,
                            _ => kept.push(e),
                        }
                    }
                    entries = kept;
                }
                for (k, v) in entries {
                    let value = self.convert(v)?;
                    dict.set_item(self.key(k), value)?;
                }
                dict.into_any()
            }
        })
    }
}

/// `bdecode(bytes) -> object`
#[pyfunction(signature = (*args, **kwargs))]
fn bdecode<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let bad_args = || -> PyResult<PyErr> { argument_error(py, "bdecode", args, "bdecode(bytes)") };
    if args.len() != 1 || kwargs.is_some_and(|k| !k.is_empty()) {
        return Err(bad_args()?);
    }
    let arg = args.get_item(0)?;
    if let Ok(b) = arg.cast::<PyBytes>() {
        decode_to_py(py, b.as_bytes())
    } else if let Ok(b) = arg.cast::<PyByteArray>() {
        // A bytearray may change under us: work on a copy.
        decode_to_py(py, &b.to_vec())
    } else {
        Err(bad_args()?)
    }
}

fn decode_to_py<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let doc = if data.len() >= DETACH_THRESHOLD {
        py.detach(|| lt_bencode::decode_compat(data, BDECODE_LIMITS))
    } else {
        lt_bencode::decode_compat(data, BDECODE_LIMITS)
    };
    match doc {
        Ok(doc) => {
            let _gc = if doc.token_count() >= GC_PAUSE_TOKENS {
                GcPause::new(py)?
            } else {
                None
            };
            ToPy::new(py).convert(doc.root())
        }
        Err(e) => Err(bdecode_error(e.kind)),
    }
}

/// From this many values on, the cyclic garbage collector is paused while
/// the Python objects are built.
const GC_PAUSE_TOKENS: usize = 4096;

/// Pauses Python's cyclic garbage collector while a large decoded value is
/// converted, restoring it when dropped (also on error).
///
/// Building tens of thousands of dicts and lists otherwise triggers
/// collection after collection that traverse the growing (acyclic, hence
/// uncollectable) result: a third of the time of `bdecode` of a 50,000-file
/// torrent. The conversion runs no Python code and keeps the GIL, so no
/// other code can observe the pause.
pub(crate) struct GcPause<'py> {
    gc: Bound<'py, PyModule>,
}

impl<'py> GcPause<'py> {
    /// `None` when the collector was already disabled (nothing to restore).
    pub(crate) fn new(py: Python<'py>) -> PyResult<Option<Self>> {
        let gc = py.import("gc")?;
        if !gc.call_method0("isenabled")?.is_truthy()? {
            return Ok(None);
        }
        gc.call_method0("disable")?;
        Ok(Some(GcPause { gc }))
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.gc.call_method0("enable") {
            // cannot propagate from `drop`; report it like an unraisable error
            e.write_unraisable(self.gc.py(), None);
        }
    }
}

fn warn_deprecated(py: Python<'_>) -> PyResult<()> {
    PyErr::warn(py, &py.get_type::<PyDeprecationWarning>(), DEPRECATED, 1)
}

fn no_converter(obj: &Bound<'_, PyAny>, target: &str) -> PyResult<PyErr> {
    let name = obj.get_type().name()?;
    Ok(PyTypeError::new_err(format!(
        "No registered converter was able to produce a C++ rvalue of type {target} from this Python object of type {name}"
    )))
}

fn to_i64(obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    obj.extract::<i64>()
        .map_err(|_| PyOverflowError::new_err("Python int too large to convert to C long"))
}

fn dict_key(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(b) = key.cast::<PyBytes>() {
        Ok(b.as_bytes().to_vec())
    } else if let Ok(b) = key.cast::<PyByteArray>() {
        Ok(b.to_vec())
    } else if let Ok(s) = key.cast::<PyString>() {
        Ok(s.to_cow()?.as_bytes().to_vec())
    } else {
        Err(no_converter(key, "std::string")?)
    }
}

/// A list or dictionary being encoded.
enum Frame<'py> {
    List {
        list: Bound<'py, PyList>,
        /// Length when the conversion started (the reference reads it once).
        len: usize,
        next: usize,
    },
    Dict {
        /// Snapshot of the items, in the dictionary's order.
        items: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
        next: usize,
        /// Output offset where this dictionary's entries begin.
        start: usize,
        /// The converted key of the entry whose value is being encoded (or
        /// the error converting it, raised once the value is done) and where
        /// the entry starts in the output.
        pending: Option<(PyResult<Vec<u8>>, usize)>,
        /// Key and output span (`key value`) of each entry.
        entries: Vec<(Vec<u8>, usize, usize)>,
    },
}

/// Starts encoding `obj`: a scalar is written at once; a list or dictionary
/// opens a frame that the main loop works through. The order of checks (and
/// so which one wins for a given type) follows the reference converter.
fn begin<'py>(
    py: Python<'py>,
    obj: Bound<'py, PyAny>,
    out: &mut Vec<u8>,
    stack: &mut Vec<Frame<'py>>,
) -> PyResult<()> {
    let mut enc = lt_bencode::Encoder::new(out);
    if let Ok(d) = obj.cast::<PyDict>() {
        // The reference walks `d.items()` by index, which only works for an
        // exact dict (a subclass yields an unsubscriptable view).
        if !obj.is_exact_instance_of::<PyDict>() && !d.is_empty() {
            return Err(PyTypeError::new_err(
                "'dict_items' object is not subscriptable",
            ));
        }
        if stack.len() >= MAX_ENCODE_DEPTH {
            return Err(too_deep());
        }
        enc.begin_dict();
        let start = enc.out.len();
        stack.push(Frame::Dict {
            items: d.iter().collect(),
            next: 0,
            start,
            pending: None,
            entries: Vec::new(),
        });
    } else if let Ok(l) = obj.cast::<PyList>() {
        if stack.len() >= MAX_ENCODE_DEPTH {
            return Err(too_deep());
        }
        enc.begin_list();
        stack.push(Frame::List {
            len: l.len(),
            list: l.clone(),
            next: 0,
        });
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        enc.bytes(b.as_bytes());
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        enc.bytes(&b.to_vec());
    } else if let Ok(s) = obj.cast::<PyString>() {
        warn_deprecated(py)?;
        enc.bytes(s.to_cow()?.as_bytes());
    } else if obj.is_instance_of::<PyInt>() {
        enc.int(to_i64(&obj)?);
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        // "Preformatted": one raw byte per element, written verbatim.
        let mut raw = Vec::with_capacity(t.len());
        for item in t.iter() {
            if !item.is_instance_of::<PyInt>() {
                return Err(no_converter(&item, "int")?);
            }
            let v = to_i64(&item)?;
            if v > i64::from(i32::MAX) {
                return Err(PyOverflowError::new_err(
                    "bad numeric conversion: positive overflow",
                ));
            }
            if v < i64::from(i32::MIN) {
                return Err(PyOverflowError::new_err(
                    "bad numeric conversion: negative overflow",
                ));
            }
            // Stored as a C `char`: the low eight bits.
            raw.push(v as u8);
        }
        enc.raw(&raw);
    } else {
        // An undefined entry, written as an empty string.
        warn_deprecated(py)?;
        enc.bytes(b"");
    }
    Ok(())
}

fn too_deep() -> PyErr {
    PyRecursionError::new_err(
        "maximum recursion depth exceeded while encoding an object to bencode",
    )
}

/// Closes a dictionary whose `key value` entries were written from `start`
/// in the source order: unless they already are, they are rewritten sorted
/// by key, keeping the first of equal keys.
fn finish_dict(out: &mut Vec<u8>, start: usize, mut entries: Vec<(Vec<u8>, usize, usize)>) {
    if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
        let written = out.split_off(start);
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut last: Option<&[u8]> = None;
        for (key, from, to) in &entries {
            if last == Some(key.as_slice()) {
                continue;
            }
            last = Some(key.as_slice());
            out.extend_from_slice(written.get(from - start..to - start).unwrap_or(&[]));
        }
    }
    out.push(b'e');
}

/// Encodes `root` without recursion: open containers live on `stack`.
fn encode_object<'py>(py: Python<'py>, root: Bound<'py, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame<'py>> = Vec::new();
    begin(py, root, &mut out, &mut stack)?;
    loop {
        let next = match stack.last_mut() {
            None => break,
            Some(Frame::List { list, len, next }) => {
                if *next < *len {
                    *next += 1;
                    Some(list.get_item(*next - 1)?)
                } else {
                    None
                }
            }
            Some(Frame::Dict {
                items,
                next,
                pending,
                entries,
                ..
            }) => {
                // The reference converts the value before its key: a bad key
                // is reported only once its value converted cleanly.
                if let Some((key, from)) = pending.take() {
                    entries.push((key?, from, out.len()));
                }
                match items.get(*next) {
                    Some((k, v)) => {
                        *next += 1;
                        let from = out.len();
                        let key = dict_key(k);
                        if let Ok(key) = &key {
                            lt_bencode::Encoder::new(&mut out).bytes(key);
                        }
                        *pending = Some((key, from));
                        Some(v.clone())
                    }
                    None => None,
                }
            }
        };
        match next {
            Some(obj) => begin(py, obj, &mut out, &mut stack)?,
            None => match stack.pop() {
                Some(Frame::Dict { start, entries, .. }) => finish_dict(&mut out, start, entries),
                _ => out.push(b'e'),
            },
        }
    }
    Ok(out)
}

/// `bencode(entry) -> bytes`
#[pyfunction(signature = (*args, **kwargs))]
fn bencode<'py>(
    py: Python<'py>,
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyBytes>> {
    if args.len() != 1 || kwargs.is_some_and(|k| !k.is_empty()) {
        return Err(argument_error(
            py,
            "bencode",
            args,
            "bencode(libtorrent::entry)",
        )?);
    }
    let out = encode_object(py, args.get_item(0)?)?;
    Ok(PyBytes::new(py, &out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bdecode, m)?)?;
    m.add_function(wrap_pyfunction!(bencode, m)?)?;
    Ok(())
}
