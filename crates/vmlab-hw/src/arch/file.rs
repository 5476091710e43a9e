//! Translation schemes read from TOML files, with errors that name the file,
//! line, column and field.
//!
//! A scheme file is the TOML form of [`ArchSpec`]: top-level keys for the
//! widths and policies, one `[[levels]]` table per level (root first), and
//! `[pte]` with a `[pte.encoding]` table whose `family` (`x86`, `riscv`,
//! `aarch64` or `simple`) decides which flag names it holds:
//!
//! ```toml
//! name = "tiny"
//! description = "16-bit VA, 256-byte pages, two levels of 4 bits"
//! va_bits = 16
//! pa_bits = 16
//! page_shift = 8
//! canonical = "zero-extend"
//! endian = "little"
//! ad_update = "hardware"
//!
//! [[levels]]
//! name = "top"
//! index_bits = 4
//! table_reserved = 0x00F0       # or a bit list: "7:4"
//!
//! [[levels]]
//! name = "bottom"
//! index_bits = 4
//! leaf = true
//!
//! [pte]
//! bytes = 2
//! frame_lo = 8
//! frame_bits = 8
//!
//! [pte.encoding]
//! family = "simple"
//! valid = 0
//! write = 1
//! ```
//!
//! Reserved-bit masks (`table_reserved`, `leaf_reserved`) are integers or bit
//! lists such as `"63:54, 7, 6, 4"` (ranges high:low, as the manuals write
//! them). TOML integers are signed 64-bit, so a mask with bit 63 set can only
//! be written as a list. `examples/arch/` holds worked files, two of them
//! equal to presets.
//!
//! The document is parsed with `toml_edit`, which keeps the position of every
//! key and value, and then deserialized by a small serde deserializer over
//! that tree that tracks the field path as it descends. A serde error thus
//! knows its field and position; an inconsistency found by [`Arch::new`]
//! names a field path, which is looked up in the same tree.

use super::pte::{bit_range, PteEncoding};
use super::{Arch, ArchSpec};
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    Visitor,
};
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use toml_edit::{ImDocument, Item, Key, Table, Value};

/// Why a scheme file could not be loaded, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchFileError {
    file: String,
    /// 1-based line and column (in characters); `None` when the file could
    /// not be read at all.
    position: Option<(usize, usize)>,
    field: Option<String>,
    message: String,
}

impl ArchFileError {
    fn at(file: &str, text: &str, offset: usize, field: &str, message: String) -> ArchFileError {
        ArchFileError {
            file: file.to_string(),
            position: Some(line_column(text, offset)),
            field: (!field.is_empty()).then(|| field.to_string()),
            message,
        }
    }

    /// The file name as given to [`load_arch_file`] or [`parse_arch_toml`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line, or `None` when the file could not be read.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// The 1-based column in characters, or `None` when the file could not
    /// be read.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// The field at fault as a dotted path (`levels[2].index_bits`); `None`
    /// for a TOML syntax error, an unreadable file, or a problem with the
    /// document as a whole (a missing top-level field).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong, or what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ArchFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file)?;
        if let Some((line, column)) = self.position {
            write!(f, "{line}:{column}:")?;
        }
        if let Some(field) = &self.field {
            write!(f, " field `{field}`:")?;
        }
        write!(f, " {}", self.message)
    }
}

impl std::error::Error for ArchFileError {}

/// Reads and validates the scheme in the TOML file at `path`.
pub fn load_arch_file(path: &Path) -> Result<Arch, ArchFileError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ArchFileError {
        file: origin.clone(),
        position: None,
        field: None,
        message: format!("cannot read: {e}"),
    })?;
    parse_arch_toml(&text, &origin)
}

/// Parses and validates a scheme from TOML `text`; `origin` names the file
/// in error messages.
pub fn parse_arch_toml(text: &str, origin: &str) -> Result<Arch, ArchFileError> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        ArchFileError::at(origin, text, offset, "", syntax_message(e.message()))
    })?;
    let root = table_node(doc.as_table(), 0);
    let spec = ArchSpec::deserialize(NodeDe {
        node: &root,
        path: "",
    })
    .map_err(|e| {
        let e = pinpoint_encoding(&root, e);
        // An error no table or value claimed concerns the whole document.
        let (path, offset) = e.place.unwrap_or_default();
        ArchFileError::at(origin, text, offset, &path, e.message)
    })?;
    Arch::new(spec).map_err(|e| {
        let offset = root.find(&e.field).0.at;
        ArchFileError::at(origin, text, offset, &e.field, e.message)
    })
}

/// `toml_edit`'s message, on one line, with a hint for the one limit of
/// TOML a scheme file runs into.
fn syntax_message(message: &str) -> String {
    let mut text = message.trim().replace('\n', "; ");
    if text == "number too large to fit in target type" {
        text.push_str(
            " (TOML integers are signed 64-bit; write a mask with bit 63 set as a bit list such as \"63:54\")",
        );
    }
    text
}

/// The 1-based line and column (in characters) of byte `offset` in `text`
/// (also used by the kernel's machine files, which report positions the
/// same way).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    // An offset past the end or inside a character cannot come from the
    // parser; clamping keeps a bad span from panicking.
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Parses a bit list such as `"63:54, 7, 6, 4"` into a mask.
fn parse_bit_list(text: &str) -> Option<u64> {
    let mut mask = 0;
    for item in text.split(',') {
        let (hi, lo) = item.split_once(':').unwrap_or((item, item));
        let hi: u8 = hi.trim().parse().ok()?;
        let lo: u8 = lo.trim().parse().ok()?;
        if hi > 63 || lo > hi {
            return None;
        }
        mask |= bit_range(lo, hi);
    }
    Some(mask)
}

/// A key or value of the document with the byte offset where it starts:
/// the value for scalars, arrays and inline tables, the `[header]` for
/// tables (the key for a table made by dotted keys, which has no header).
#[derive(Clone, Debug)]
struct Node {
    at: usize,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Table(Vec<Entry>),
    Array(Vec<Node>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime,
}

#[derive(Clone, Debug)]
struct Entry {
    key: String,
    key_at: usize,
    value: Node,
}

fn table_node(table: &Table, fallback: usize) -> Node {
    let entries = table
        .iter()
        .map(|(key, item)| {
            let key_at = start(table.key(key).and_then(Key::span), fallback);
            Entry {
                key: key.to_string(),
                key_at,
                value: item_node(item, key_at),
            }
        })
        .collect();
    Node {
        at: start(table.span(), fallback),
        kind: Kind::Table(entries),
    }
}

fn item_node(item: &Item, key_at: usize) -> Node {
    match item {
        Item::Value(value) => value_node(value, key_at),
        Item::Table(table) => table_node(table, key_at),
        Item::ArrayOfTables(array) => Node {
            at: start(array.span(), key_at),
            kind: Kind::Array(array.iter().map(|t| table_node(t, key_at)).collect()),
        },
        // A parsed document has no empty slots; reading one as an empty
        // table keeps this total.
        Item::None => Node {
            at: key_at,
            kind: Kind::Table(Vec::new()),
        },
    }
}

fn value_node(value: &Value, key_at: usize) -> Node {
    let at = start(value.span(), key_at);
    let kind = match value {
        Value::String(s) => Kind::Str(s.value().clone()),
        Value::Integer(i) => Kind::Int(*i.value()),
        Value::Float(f) => Kind::Float(*f.value()),
        Value::Boolean(b) => Kind::Bool(*b.value()),
        Value::Datetime(_) => Kind::Datetime,
        Value::Array(array) => Kind::Array(array.iter().map(|v| value_node(v, at)).collect()),
        Value::InlineTable(table) => Kind::Table(
            table
                .iter()
                .map(|(key, v)| {
                    let key_at = start(table.key(key).and_then(Key::span), at);
                    Entry {
                        key: key.to_string(),
                        key_at,
                        value: value_node(v, key_at),
                    }
                })
                .collect(),
        ),
    };
    Node { at, kind }
}

fn start(span: Option<std::ops::Range<usize>>, fallback: usize) -> usize {
    span.map_or(fallback, |s| s.start)
}

impl Node {
    /// The node at `path` (`levels[2].index_bits`), or the deepest node on
    /// the way to it when the rest is absent (a defaulted field points at
    /// its table); the flag says whether the whole path was found.
    fn find(&self, path: &str) -> (&Node, bool) {
        let mut node = self;
        for segment in path.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
            let next = match &node.kind {
                Kind::Table(entries) => entries.iter().find(|e| e.key == segment).map(|e| &e.value),
                Kind::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => node = next,
                None => return (node, false),
            }
        }
        (node, true)
    }
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A serde error with the field path and offset of the innermost key or
/// value that claimed it.
#[derive(Debug)]
struct DeError {
    message: String,
    place: Option<(String, usize)>,
}

impl DeError {
    fn locate(mut self, path: &str, at: usize) -> DeError {
        if self.place.is_none() {
            self.place = Some((path.to_string(), at));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> DeError {
        DeError {
            message: msg.to_string(),
            place: None,
        }
    }
}

/// Deserializes the node it holds; `path` is that node's field path.
struct NodeDe<'a> {
    node: &'a Node,
    path: &'a str,
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Table(entries) => visitor.visit_map(TableAccess {
                rest: entries,
                path: self.path,
            }),
            Kind::Array(items) => visitor.visit_seq(ArrayAccess {
                items: items.iter().enumerate(),
                path: self.path,
            }),
            Kind::Str(s) => visitor.visit_str(s),
            Kind::Int(i) => visitor.visit_i64(*i),
            Kind::Float(x) => visitor.visit_f64(*x),
            Kind::Bool(b) => visitor.visit_bool(*b),
            Kind::Datetime => Err(de::Error::invalid_type(
                Unexpected::Other("date-time"),
                &visitor,
            )),
        }
    }

    /// The only `u64` fields of a scheme are reserved-bit masks, which may
    /// also be written as bit lists.
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Str(s) => match parse_bit_list(s) {
                Some(mask) => visitor.visit_u64(mask),
                None => Err(de::Error::custom(format!(
                    "expected a mask: an integer, or a bit list of bit numbers 0 to 63 and high:low ranges such as \"63:54, 7\"; found {s:?}"
                ))),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    /// TOML has no null: a present value is always `Some`, and an absent
    /// field never reaches the deserializer.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    /// Unit variants (`canonical = "sign-extend"`) are strings.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// The entries of a table not yet handed out; the first is the one whose
/// key was last read.
struct TableAccess<'a> {
    rest: &'a [Entry],
    path: &'a str,
}

impl<'de> MapAccess<'de> for TableAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.rest.first() else {
            return Ok(None);
        };
        // An unknown field is reported at its key.
        seed.deserialize(entry.key.as_str().into_deserializer())
            .map(Some)
            .map_err(|e: DeError| e.locate(&child_path(self.path, &entry.key), entry.key_at))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((entry, rest)) = self.rest.split_first() else {
            return Err(de::Error::custom(
                "a value was asked for past the end of a table",
            ));
        };
        self.rest = rest;
        let path = child_path(self.path, &entry.key);
        seed.deserialize(NodeDe {
            node: &entry.value,
            path: &path,
        })
        .map_err(|e| e.locate(&path, entry.value.at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.rest.len())
    }
}

struct ArrayAccess<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'a str,
}

impl<'de> SeqAccess<'de> for ArrayAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.path);
        seed.deserialize(NodeDe { node, path: &path })
            .map(Some)
            .map_err(|e| e.locate(&path, node.at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Serde reads an internally tagged enum ([`PteEncoding`], tagged by
/// `family`) through a buffer that forgets where things were, so an error
/// inside `pte.encoding` arrives pointing at the whole table. Reading the
/// table again with one entry at a time (beside `family`) finds the entry
/// that gives the same error. A missing field stays with the table, which is
/// where it belongs.
fn pinpoint_encoding(root: &Node, err: DeError) -> DeError {
    const PATH: &str = "pte.encoding";
    if !matches!(&err.place, Some((path, _)) if path == PATH)
        || err.message.starts_with("missing field")
    {
        return err;
    }
    let (table, true) = root.find(PATH) else {
        return err;
    };
    let Kind::Table(entries) = &table.kind else {
        return err;
    };
    let family = entries.iter().find(|e| e.key == "family");
    for entry in entries.iter().filter(|e| e.key != "family") {
        let alone = Node {
            at: table.at,
            kind: Kind::Table(family.into_iter().chain([entry]).cloned().collect()),
        };
        let again = PteEncoding::deserialize(NodeDe {
            node: &alone,
            path: PATH,
        });
        if again.is_err_and(|e| e.message == err.message) {
            let at = if err.message.starts_with("unknown field") {
                entry.key_at
            } else {
                entry.value.at
            };
            return DeError {
                place: Some((child_path(PATH, &entry.key), at)),
                message: err.message,
            };
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AccessKind, Mode, Perms};
    use crate::arch::presets;
    use crate::arch::pte::LeafAttrs;
    use crate::events::NoEvents;
    use crate::pagetable::{PageTable, TableArena};
    use crate::physmem::PhysMem;
    use crate::walk::{walk, PageFaultCause};
    use std::path::PathBuf;

    /// A small consistent scheme; the tests below break one line of it at a
    /// time, so the line numbers in their expectations refer to this text.
    const BASE: &str = r#"name = "t"
description = "test scheme"
va_bits = 16
pa_bits = 16
page_shift = 8
canonical = "zero-extend"
endian = "little"
ad_update = "hardware"

[[levels]]
name = "top"
index_bits = 4

[[levels]]
name = "bottom"
index_bits = 4
leaf = true

[pte]
bytes = 2
frame_lo = 8
frame_bits = 8

[pte.encoding]
family = "simple"
valid = 0
write = 1
dirty = 2
"#;

    fn example(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/arch")
            .join(name)
    }

    /// `BASE` with `from` (which must occur once) replaced by `to`, parsed.
    fn broken(from: &str, to: &str) -> ArchFileError {
        assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once");
        match parse_arch_toml(&BASE.replacen(from, to, 1), "bad.toml") {
            Ok(arch) => panic!("expected an error, got {arch:?}"),
            Err(e) => e,
        }
    }

    fn place(e: &ArchFileError) -> (Option<usize>, Option<usize>, Option<&str>) {
        (e.line(), e.column(), e.field())
    }

    #[test]
    fn base_scheme_loads() {
        let arch = parse_arch_toml(BASE, "base.toml").unwrap();
        assert_eq!(arch.name(), "t");
        assert_eq!(arch.levels().len(), 2);
        assert_eq!(arch.level_shift(0), 12);
    }

    #[test]
    fn example_files_reproduce_their_presets() {
        for name in ["riscv-sv39", "x86-64"] {
            let loaded = load_arch_file(&example(&format!("{name}.toml"))).unwrap();
            let preset = presets::by_name(name).unwrap().unwrap();
            assert_eq!(loaded, preset, "{name}");
        }
    }

    /// The teaching machine in `examples/arch/tiny24.toml`, worked by hand:
    /// 0x123456 = 000100 100011 010001 010110 (octal 04 43 21 26) splits into
    /// indices 4, 35, 17 and offset 0x16; mapped to frame 0xABC0 it
    /// translates to 0xABD6.
    #[test]
    fn teaching_scheme_from_a_file_walks() {
        let arch = load_arch_file(&example("tiny24.toml")).unwrap();
        assert_eq!(arch.page_bytes(), 64);
        let va = 0x12_3456;
        let split: Vec<u64> = (0..3).map(|level| arch.index(va, level)).collect();
        assert_eq!(split, [4, 35, 17]);
        assert_eq!(va & 63, 0x16);

        let mut mem = PhysMem::new(1 << 16, arch.endian()).unwrap();
        let mut arena = TableArena::new(0x8000, 0x1_0000, arch.page_bytes());
        let mut pt = PageTable::new(&arch, &mut mem, &mut arena).unwrap();
        let attrs = LeafAttrs::new(Perms::READ | Perms::WRITE | Perms::USER);
        pt.map(&arch, &mut mem, &mut arena, va & !63, 0xABC0, 6, attrs)
            .unwrap();

        let t = walk(
            &arch,
            &mut mem,
            pt.root(),
            va,
            AccessKind::Write,
            Mode::User,
            &mut NoEvents,
        )
        .unwrap();
        assert_eq!(t.paddr, 0xABD6);
        assert_eq!(t.level, 2);
        // Frame 0xABC0 >> 6 = 0x2AF in bits 15:6, then V, R, W, and the
        // referenced (bit 4) and modified (bit 5) bits the walk just set.
        assert_eq!(mem.load(t.pte_addr, 2).unwrap(), 0x2AF << 6 | 0b11_0111);

        let fault = walk(
            &arch,
            &mut mem,
            pt.root(),
            0x12_3496,
            AccessKind::Read,
            Mode::User,
            &mut NoEvents,
        )
        .unwrap_err();
        assert_eq!((fault.level, fault.cause), (2, PageFaultCause::NotPresent));
    }

    #[test]
    fn index_bits_that_do_not_add_up_point_at_levels() {
        let e = broken("index_bits = 4\nleaf", "index_bits = 5\nleaf");
        assert_eq!(
            e.to_string(),
            "bad.toml:10:1: field `levels`: index bits (4+5) plus page_shift (8) must add up to va_bits (16), not 17"
        );
    }

    #[test]
    fn pte_bit_outside_the_entry_points_at_its_value() {
        let e = broken("dirty = 2", "dirty = 16");
        assert_eq!(
            e.to_string(),
            "bad.toml:28:9: field `pte.encoding.dirty`: bit 16 is outside the 16-bit entry"
        );
    }

    #[test]
    fn frame_field_outside_the_entry_points_at_frame_bits() {
        let e = broken("frame_bits = 8", "frame_bits = 9");
        assert_eq!(
            e.to_string(),
            "bad.toml:22:14: field `pte.frame_bits`: the frame field (bits 8..17) must lie inside the 16-bit entry"
        );
    }

    #[test]
    fn a_defaulted_field_points_at_its_table() {
        let e = broken("leaf = true\n", "");
        assert_eq!(place(&e), (Some(14), Some(1), Some("levels[1].leaf")));
        assert_eq!(
            e.message(),
            "the last level always maps pages: expected true"
        );
    }

    #[test]
    fn unknown_field_points_at_its_key() {
        let e = broken("index_bits = 4\nleaf", "index_bitz = 4\nleaf");
        assert_eq!(place(&e), (Some(16), Some(1), Some("levels[1].index_bitz")));
        assert!(
            e.message()
                .starts_with("unknown field `index_bitz`, expected one of `name`, `index_bits`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_flag_in_the_encoding_points_at_its_key() {
        let e = broken("dirty = 2", "dirt = 2");
        assert_eq!(place(&e), (Some(28), Some(1), Some("pte.encoding.dirt")));
        assert!(e.message().starts_with("unknown field `dirt`"), "{e}");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let e = broken("page_shift = 8", "page_shift = \"8\"");
        assert_eq!(
            e.to_string(),
            "bad.toml:5:14: field `page_shift`: invalid type: string \"8\", expected u8"
        );
        let e = broken("write = 1", "write = \"1\"");
        assert_eq!(
            e.to_string(),
            "bad.toml:27:9: field `pte.encoding.write`: invalid type: string \"1\", expected u8"
        );
        let e = broken("valid = 0", "valid = 300");
        assert_eq!(place(&e), (Some(26), Some(9), Some("pte.encoding.valid")));
        assert_eq!(e.message(), "invalid value: integer `300`, expected u8");
        let e = broken("name = \"t\"", "name = 1979-05-27");
        assert_eq!(place(&e), (Some(1), Some(8), Some("name")));
        assert_eq!(e.message(), "invalid type: date-time, expected a string");
    }

    #[test]
    fn unknown_enum_values_point_at_the_value() {
        let e = broken("endian = \"little\"", "endian = \"middle\"");
        assert_eq!(place(&e), (Some(7), Some(10), Some("endian")));
        assert_eq!(
            e.message(),
            "unknown variant `middle`, expected `little` or `big`"
        );
        let e = broken("family = \"simple\"", "family = \"mips\"");
        assert_eq!(place(&e), (Some(25), Some(10), Some("pte.encoding.family")));
        assert!(e.message().starts_with("unknown variant `mips`"), "{e}");
    }

    #[test]
    fn missing_fields_point_at_their_table() {
        let e = broken("pa_bits = 16\n", "");
        assert_eq!(e.to_string(), "bad.toml:1:1: missing field `pa_bits`");
        let e = broken("name = \"bottom\"\n", "");
        assert_eq!(place(&e), (Some(14), Some(1), Some("levels[1]")));
        assert_eq!(e.message(), "missing field `name`");
        let e = broken("family = \"simple\"\n", "");
        assert_eq!(place(&e), (Some(24), Some(1), Some("pte.encoding")));
        assert_eq!(e.message(), "missing field `family`");
    }

    #[test]
    fn syntax_error_gives_line_and_column() {
        let e = broken("va_bits = 16", "va_bits = = 16");
        assert_eq!(place(&e), (Some(3), Some(11), None));
        assert_eq!(
            e.to_string(),
            "bad.toml:3:11: invalid string; expected `\"`, `'`"
        );
    }

    #[test]
    fn masks_are_integers_or_bit_lists() {
        let text = BASE.replacen(
            "index_bits = 4\n",
            "index_bits = 4\ntable_reserved = \"15:12, 3\"\nleaf_reserved = 0x0F00\n",
            1,
        );
        let arch = parse_arch_toml(&text, "masks.toml").unwrap();
        assert_eq!(arch.levels()[0].table_reserved, 0xF008);
        assert_eq!(arch.levels()[0].leaf_reserved, 0x0F00);

        let e = broken(
            "index_bits = 4\n\n",
            "index_bits = 4\ntable_reserved = \"64:60\"\n\n",
        );
        assert_eq!(
            place(&e),
            (Some(13), Some(18), Some("levels[0].table_reserved"))
        );
        assert!(e.message().starts_with("expected a mask"), "{e}");

        let e = broken(
            "index_bits = 4\n\n",
            "index_bits = 4\ntable_reserved = 0xFFC0000000000000\n\n",
        );
        assert_eq!(place(&e), (Some(13), Some(18), None));
        assert!(e.message().contains("bit list"), "{e}");
    }

    /// Inline tables and arrays, dotted keys, and columns counted in
    /// characters, not bytes.
    #[test]
    fn inline_forms_are_located_too() {
        let text = r#"name = "ä"
description = "äöü"
va_bits = 16
pa_bits = 16
page_shift = 8
canonical = "zero-extend"
endian = "little"
ad_update = "hardware"
levels = [{ name = "ä", index_bits = 0 }, { name = "b", index_bits = 8, leaf = true }]
pte = { bytes = 2, frame_lo = 8, frame_bits = 8, encoding.family = "simple", encoding.valid = 0 }
"#;
        let e = parse_arch_toml(text, "inline.toml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inline.toml:9:38: field `levels[0].index_bits`: expected 1 to 20"
        );
        let text = text
            .replace("index_bits = 0 }", "index_bits = 4 }")
            .replace("index_bits = 8,", "index_bits = 4,")
            .replace("encoding.valid = 0", "encoding.valid = 9");
        let e = parse_arch_toml(&text, "inline.toml").unwrap_err();
        assert_eq!(place(&e), (Some(10), Some(95), Some("pte.encoding.valid")));
    }

    #[test]
    fn missing_file_says_it_cannot_be_read() {
        let path = example("no-such-scheme.toml");
        let e = load_arch_file(&path).unwrap_err();
        assert_eq!((e.line(), e.column(), e.field()), (None, None, None));
        assert_eq!(e.file(), path.display().to_string());
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read: ", path.display())),
            "{e}"
        );
    }
}
