//! The BER subset SNMPv2c uses (X.690 definite lengths, single-byte tags): INTEGER, OCTET
//! STRING, NULL, OBJECT IDENTIFIER, SEQUENCE, the SMIv2 application types (IpAddress,
//! Counter32, Gauge32, TimeTicks, Counter64) and the RFC 3416 exceptions, plus the message
//! and PDU layout of RFC 1901/3416.
//!
//! Decoding works on a borrowed datagram and never panics: every length is checked against
//! what is left, lengths beyond the datagram, indefinite lengths, multi-byte tags, oversized
//! integers and sub-identifiers are [`BerError`]s. Encoding writes definite, minimal lengths.
//! Runs on the SNMP agent's thread (or the in-band manager's), never on a worker.

use std::cmp::Ordering;
use std::fmt;

/// Universal and SNMP tags.
pub mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const IP_ADDRESS: u8 = 0x40;
    pub const COUNTER32: u8 = 0x41;
    pub const GAUGE32: u8 = 0x42;
    pub const TIMETICKS: u8 = 0x43;
    pub const OPAQUE: u8 = 0x44;
    pub const COUNTER64: u8 = 0x46;
    pub const NO_SUCH_OBJECT: u8 = 0x80;
    pub const NO_SUCH_INSTANCE: u8 = 0x81;
    pub const END_OF_MIB_VIEW: u8 = 0x82;
    pub const GET_REQUEST: u8 = 0xa0;
    pub const GET_NEXT_REQUEST: u8 = 0xa1;
    pub const RESPONSE: u8 = 0xa2;
    pub const SET_REQUEST: u8 = 0xa3;
    pub const GET_BULK_REQUEST: u8 = 0xa5;
    pub const INFORM_REQUEST: u8 = 0xa6;
    pub const SNMPV2_TRAP: u8 = 0xa7;
    pub const REPORT: u8 = 0xa8;
}

/// Most sub-identifiers in an OID (RFC 2578 §3.5).
pub const MAX_OID_LEN: usize = 128;

/// Why a datagram is not a well-formed SNMP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// The input ended inside a tag, length or value.
    #[error("truncated")]
    Truncated,
    /// Indefinite length (0x80) or a length field longer than four bytes.
    #[error("unsupported length form")]
    BadLength,
    /// Multi-byte (high-number) tag.
    #[error("unsupported tag form")]
    BadTag,
    /// A different tag than the structure requires.
    #[error("unexpected tag 0x{0:02x}")]
    UnexpectedTag(u8),
    /// An INTEGER longer than 8 bytes, empty, or out of the field's range.
    #[error("integer out of range")]
    IntegerRange,
    /// An OID that is empty, too long, or has a sub-identifier beyond 32 bits.
    #[error("bad object identifier")]
    BadOid,
    /// NULL with contents, or an IpAddress that is not 4 bytes.
    #[error("bad value length")]
    BadValue,
    /// Bytes left over after the message or inside a SEQUENCE.
    #[error("trailing bytes")]
    Trailing,
}

/// An OBJECT IDENTIFIER: sub-identifiers, compared lexicographically (MIB order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    pub fn new(arcs: &[u32]) -> Oid {
        Oid(arcs.to_vec())
    }
    /// `self` followed by `more`.
    pub fn child(&self, more: &[u32]) -> Oid {
        let mut v = self.0.clone();
        v.extend_from_slice(more);
        Oid(v)
    }
    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }
}

impl PartialOrd for Oid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Oid {
    /// Lexicographic by sub-identifier, a prefix before its extensions (MIB walk order).
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// A varbind value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    OctetString(Vec<u8>),
    Null,
    Oid(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    Gauge32(u32),
    TimeTicks(u32),
    Counter64(u64),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
    /// Any other tag (e.g. Opaque in a SetRequest): kept as raw contents.
    Other(u8, Vec<u8>),
}

/// A PDU type the agent distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PduType {
    Get,
    GetNext,
    Response,
    Set,
    GetBulk,
    Inform,
    Trap,
    Report,
}

impl PduType {
    pub fn tag(self) -> u8 {
        match self {
            PduType::Get => tag::GET_REQUEST,
            PduType::GetNext => tag::GET_NEXT_REQUEST,
            PduType::Response => tag::RESPONSE,
            PduType::Set => tag::SET_REQUEST,
            PduType::GetBulk => tag::GET_BULK_REQUEST,
            PduType::Inform => tag::INFORM_REQUEST,
            PduType::Trap => tag::SNMPV2_TRAP,
            PduType::Report => tag::REPORT,
        }
    }
    fn from_tag(t: u8) -> Option<PduType> {
        Some(match t {
            tag::GET_REQUEST => PduType::Get,
            tag::GET_NEXT_REQUEST => PduType::GetNext,
            tag::RESPONSE => PduType::Response,
            tag::SET_REQUEST => PduType::Set,
            tag::GET_BULK_REQUEST => PduType::GetBulk,
            tag::INFORM_REQUEST => PduType::Inform,
            tag::SNMPV2_TRAP => PduType::Trap,
            tag::REPORT => PduType::Report,
            _ => return None,
        })
    }
}

/// One PDU. For GetBulk `error_status` is non-repeaters and `error_index` max-repetitions
/// (the same wire positions, RFC 3416 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub kind: PduType,
    pub request_id: i32,
    pub error_status: i32,
    pub error_index: i32,
    pub varbinds: Vec<(Oid, Value)>,
}

/// A community-based message (RFC 1901): version 1 is SNMPv2c, 0 is SNMPv1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub version: i64,
    pub community: Vec<u8>,
    pub pdu: Pdu,
}

/// What [`Message::decode`] can tell about a datagram it rejects: the header fields it got
/// before the error (to count a bad version separately from garbage).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeFailure {
    pub error: BerError,
    /// The version field, when the error came later.
    pub version: Option<i64>,
}

// ---------------------------------------------------------------------------------------
// Decoding

/// A cursor over BER bytes.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    /// The next tag without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }
    /// The next TLV: (tag, contents).
    pub fn read_tlv(&mut self) -> Result<(u8, &'a [u8]), BerError> {
        let (&t, rest) = self.buf.split_first().ok_or(BerError::Truncated)?;
        if t & 0x1f == 0x1f {
            return Err(BerError::BadTag);
        }
        let (&l0, mut rest) = rest.split_first().ok_or(BerError::Truncated)?;
        let len = if l0 < 0x80 {
            l0 as usize
        } else {
            let n = (l0 & 0x7f) as usize;
            if n == 0 || n > 4 {
                return Err(BerError::BadLength);
            }
            let (bytes, r) = split_at_checked(rest, n).ok_or(BerError::Truncated)?;
            rest = r;
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize)
        };
        let (contents, rest) = split_at_checked(rest, len).ok_or(BerError::Truncated)?;
        self.buf = rest;
        Ok((t, contents))
    }
    /// The next TLV, which must carry `want`.
    pub fn expect(&mut self, want: u8) -> Result<&'a [u8], BerError> {
        let (t, c) = self.read_tlv()?;
        if t != want {
            return Err(BerError::UnexpectedTag(t));
        }
        Ok(c)
    }
    pub fn read_integer(&mut self) -> Result<i64, BerError> {
        decode_integer(self.expect(tag::INTEGER)?)
    }
    /// An INTEGER that must fit an `i32` (request-id, error-status, error-index).
    pub fn read_i32(&mut self) -> Result<i32, BerError> {
        i32::try_from(self.read_integer()?).map_err(|_| BerError::IntegerRange)
    }
}

fn split_at_checked(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (n <= b.len()).then(|| b.split_at(n))
}

/// A two's complement INTEGER of 1..=8 bytes.
pub fn decode_integer(c: &[u8]) -> Result<i64, BerError> {
    if c.is_empty() || c.len() > 8 {
        return Err(BerError::IntegerRange);
    }
    let neg = c[0] & 0x80 != 0;
    let init: i64 = if neg { -1 } else { 0 };
    Ok(c.iter().fold(init, |acc, &b| (acc << 8) | b as i64))
}

/// An unsigned application value (Counter32 …) of at most `max_bits` bits; a leading zero
/// byte is allowed.
fn decode_unsigned(c: &[u8], max_bits: u32) -> Result<u64, BerError> {
    if c.is_empty() || c.len() > 9 || (c.len() == 9 && c[0] != 0) {
        return Err(BerError::IntegerRange);
    }
    if c[0] & 0x80 != 0 {
        return Err(BerError::IntegerRange);
    }
    let v = c.iter().fold(0u128, |acc, &b| (acc << 8) | b as u128);
    if v >> max_bits != 0 {
        return Err(BerError::IntegerRange);
    }
    u64::try_from(v).map_err(|_| BerError::IntegerRange)
}

/// OBJECT IDENTIFIER contents (X.690 §8.19).
pub fn decode_oid(c: &[u8]) -> Result<Oid, BerError> {
    if c.is_empty() {
        return Err(BerError::BadOid);
    }
    let mut arcs = Vec::with_capacity(c.len() + 1);
    let mut acc: u64 = 0;
    let mut in_arc = false;
    for &b in c {
        if !in_arc && b == 0x80 {
            return Err(BerError::BadOid); // Non-minimal sub-identifier.
        }
        acc = (acc << 7) | (b & 0x7f) as u64;
        if acc > u32::MAX as u64 + 80 {
            return Err(BerError::BadOid);
        }
        in_arc = true;
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.push(first as u32);
                arcs.push(u32::try_from(second).map_err(|_| BerError::BadOid)?);
            } else {
                arcs.push(u32::try_from(acc).map_err(|_| BerError::BadOid)?);
            }
            acc = 0;
            in_arc = false;
        }
        if arcs.len() > MAX_OID_LEN {
            return Err(BerError::BadOid);
        }
    }
    if in_arc {
        return Err(BerError::BadOid); // Ended inside a sub-identifier.
    }
    Ok(Oid(arcs))
}

/// One varbind value from its TLV.
pub fn decode_value(t: u8, c: &[u8]) -> Result<Value, BerError> {
    Ok(match t {
        tag::INTEGER => Value::Integer(decode_integer(c)?),
        tag::OCTET_STRING => Value::OctetString(c.to_vec()),
        tag::NULL if c.is_empty() => Value::Null,
        tag::OID => Value::Oid(decode_oid(c)?),
        tag::IP_ADDRESS => Value::IpAddress(c.try_into().map_err(|_| BerError::BadValue)?),
        tag::COUNTER32 => Value::Counter32(decode_unsigned(c, 32)? as u32),
        tag::GAUGE32 => Value::Gauge32(decode_unsigned(c, 32)? as u32),
        tag::TIMETICKS => Value::TimeTicks(decode_unsigned(c, 32)? as u32),
        tag::COUNTER64 => Value::Counter64(decode_unsigned(c, 64)?),
        tag::NO_SUCH_OBJECT | tag::NO_SUCH_INSTANCE | tag::END_OF_MIB_VIEW | tag::NULL if !c.is_empty() => {
            return Err(BerError::BadValue)
        }
        tag::NO_SUCH_OBJECT => Value::NoSuchObject,
        tag::NO_SUCH_INSTANCE => Value::NoSuchInstance,
        tag::END_OF_MIB_VIEW => Value::EndOfMibView,
        t if t & 0x20 != 0 => return Err(BerError::UnexpectedTag(t)), // Constructed: not a value.
        t => Value::Other(t, c.to_vec()),
    })
}

impl Message {
    /// Parses a whole datagram: SEQUENCE { version, community, PDU } and nothing after it.
    pub fn decode(datagram: &[u8]) -> Result<Message, DecodeFailure> {
        let fail = |error, version| DecodeFailure { error, version };
        let mut outer = Reader::new(datagram);
        let body = outer.expect(tag::SEQUENCE).map_err(|e| fail(e, None))?;
        if !outer.is_empty() {
            return Err(fail(BerError::Trailing, None));
        }
        let mut r = Reader::new(body);
        let version = r.read_integer().map_err(|e| fail(e, None))?;
        let v = Some(version);
        let community = r.expect(tag::OCTET_STRING).map_err(|e| fail(e, v))?.to_vec();
        let (pt, pc) = r.read_tlv().map_err(|e| fail(e, v))?;
        if !r.is_empty() {
            return Err(fail(BerError::Trailing, v));
        }
        let kind = PduType::from_tag(pt).ok_or(fail(BerError::UnexpectedTag(pt), v))?;
        let pdu = decode_pdu(kind, pc).map_err(|e| fail(e, v))?;
        Ok(Message { version, community, pdu })
    }

    /// The datagram bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut vbs = Vec::new();
        for (oid, value) in &self.pdu.varbinds {
            encode_varbind(&mut vbs, oid, value);
        }
        encode_message(self.version, &self.community, &self.pdu, &vbs)
    }
}

fn decode_pdu(kind: PduType, c: &[u8]) -> Result<Pdu, BerError> {
    let mut r = Reader::new(c);
    let request_id = r.read_i32()?;
    let error_status = r.read_i32()?;
    let error_index = r.read_i32()?;
    let list = r.expect(tag::SEQUENCE)?;
    if !r.is_empty() {
        return Err(BerError::Trailing);
    }
    let mut vr = Reader::new(list);
    let mut varbinds = Vec::new();
    while !vr.is_empty() {
        let vb = vr.expect(tag::SEQUENCE)?;
        let mut br = Reader::new(vb);
        let oid = decode_oid(br.expect(tag::OID)?)?;
        let (vt, vc) = br.read_tlv()?;
        if !br.is_empty() {
            return Err(BerError::Trailing);
        }
        varbinds.push((oid, decode_value(vt, vc)?));
    }
    Ok(Pdu { kind, request_id, error_status, error_index, varbinds })
}

// ---------------------------------------------------------------------------------------
// Encoding

/// Bytes a definite length of `len` takes (1 for short form, 1 + n for long form).
pub fn length_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xff_ffff => 4,
        _ => 5,
    }
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    let n = length_len(len);
    if n == 1 {
        out.push(len as u8);
    } else {
        out.push(0x80 | (n - 1) as u8);
        for i in (0..n - 1).rev() {
            out.push((len >> (8 * i)) as u8);
        }
    }
}

/// Appends tag, length and `contents`.
pub fn push_tlv(out: &mut Vec<u8>, t: u8, contents: &[u8]) {
    out.push(t);
    push_length(out, contents.len());
    out.extend_from_slice(contents);
}

/// Minimal two's complement bytes of `v`.
fn integer_bytes(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (cur, next) = (b[start], b[start + 1]);
        if (cur == 0x00 && next & 0x80 == 0) || (cur == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    b[start..].to_vec()
}

/// Minimal unsigned bytes of `v` (a leading zero when the top bit is set).
fn unsigned_bytes(v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let start = b.iter().position(|&x| x != 0).unwrap_or(7);
    let mut out = Vec::with_capacity(9);
    if b[start] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(&b[start..]);
    out
}

/// OID contents. OIDs built by the agent always have at least two arcs with a valid first
/// pair; a shorter one (only from a decoded request, which has two) encodes as given arcs
/// padded with zero.
pub fn oid_bytes(oid: &Oid) -> Vec<u8> {
    let a = oid.arcs();
    let first = a.first().copied().unwrap_or(0).min(2) as u64;
    let second = a.get(1).copied().unwrap_or(0) as u64;
    let mut out = Vec::with_capacity(a.len() + 4);
    push_base128(&mut out, first * 40 + second);
    for &arc in a.iter().skip(2) {
        push_base128(&mut out, arc as u64);
    }
    out
}

fn push_base128(out: &mut Vec<u8>, v: u64) {
    let mut groups = [0u8; 10];
    let mut n = 0;
    let mut x = v;
    loop {
        groups[n] = (x & 0x7f) as u8;
        n += 1;
        x >>= 7;
        if x == 0 {
            break;
        }
    }
    for i in (0..n).rev() {
        out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
    }
}

/// Appends one value's TLV.
pub fn push_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Integer(i) => push_tlv(out, tag::INTEGER, &integer_bytes(*i)),
        Value::OctetString(s) => push_tlv(out, tag::OCTET_STRING, s),
        Value::Null => push_tlv(out, tag::NULL, &[]),
        Value::Oid(o) => push_tlv(out, tag::OID, &oid_bytes(o)),
        Value::IpAddress(a) => push_tlv(out, tag::IP_ADDRESS, a),
        Value::Counter32(c) => push_tlv(out, tag::COUNTER32, &unsigned_bytes(*c as u64)),
        Value::Gauge32(c) => push_tlv(out, tag::GAUGE32, &unsigned_bytes(*c as u64)),
        Value::TimeTicks(c) => push_tlv(out, tag::TIMETICKS, &unsigned_bytes(*c as u64)),
        Value::Counter64(c) => push_tlv(out, tag::COUNTER64, &unsigned_bytes(*c)),
        Value::NoSuchObject => push_tlv(out, tag::NO_SUCH_OBJECT, &[]),
        Value::NoSuchInstance => push_tlv(out, tag::NO_SUCH_INSTANCE, &[]),
        Value::EndOfMibView => push_tlv(out, tag::END_OF_MIB_VIEW, &[]),
        Value::Other(t, c) => push_tlv(out, *t, c),
    }
}

/// Appends one varbind SEQUENCE { name, value }.
pub fn encode_varbind(out: &mut Vec<u8>, oid: &Oid, v: &Value) {
    let mut inner = Vec::with_capacity(32);
    push_tlv(&mut inner, tag::OID, &oid_bytes(oid));
    push_value(&mut inner, v);
    push_tlv(out, tag::SEQUENCE, &inner);
}

/// A whole message around already encoded varbinds (`pdu.varbinds` is ignored).
pub fn encode_message(version: i64, community: &[u8], pdu: &Pdu, varbinds: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(varbinds.len() + 24);
    push_tlv(&mut p, tag::INTEGER, &integer_bytes(pdu.request_id as i64));
    push_tlv(&mut p, tag::INTEGER, &integer_bytes(pdu.error_status as i64));
    push_tlv(&mut p, tag::INTEGER, &integer_bytes(pdu.error_index as i64));
    push_tlv(&mut p, tag::SEQUENCE, varbinds);
    let mut m = Vec::with_capacity(p.len() + community.len() + 16);
    push_tlv(&mut m, tag::INTEGER, &integer_bytes(version));
    push_tlv(&mut m, tag::OCTET_STRING, community);
    push_tlv(&mut m, pdu.kind.tag(), &p);
    let mut out = Vec::with_capacity(m.len() + 6);
    push_tlv(&mut out, tag::SEQUENCE, &m);
    out
}

/// Size of [`encode_message`]'s output for varbinds of `varbinds_len` bytes, without
/// building it (GetBulk fills a response up to a size limit).
pub fn message_len(version: i64, community: &[u8], pdu: &Pdu, varbinds_len: usize) -> usize {
    let tlv = |n: usize| 1 + length_len(n) + n;
    let p = tlv(integer_bytes(pdu.request_id as i64).len())
        + tlv(integer_bytes(pdu.error_status as i64).len())
        + tlv(integer_bytes(pdu.error_index as i64).len())
        + tlv(varbinds_len);
    let m = tlv(integer_bytes(version).len()) + tlv(community.len()) + tlv(p);
    tlv(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        Oid(s.split('.').map(|a| a.parse().unwrap()).collect())
    }

    /// net-snmp's `snmpget -v2c -c public localhost 1.3.6.1.2.1.1.1.0`, byte for byte.
    const GET_SYSDESCR: &[u8] = &[
        0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x1c, 0x02, 0x04,
        0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b,
        0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
    ];

    #[test]
    fn decodes_a_real_get_request_and_reencodes_it_identically() {
        let m = Message::decode(GET_SYSDESCR).unwrap();
        assert_eq!(m.version, 1);
        assert_eq!(m.community, b"public");
        assert_eq!(m.pdu.kind, PduType::Get);
        assert_eq!(m.pdu.request_id, 0x12345678);
        assert_eq!(m.pdu.varbinds, vec![(oid("1.3.6.1.2.1.1.1.0"), Value::Null)]);
        assert_eq!(m.encode(), GET_SYSDESCR);
    }

    #[test]
    fn integers_encode_minimally_and_round_trip() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x00, 0x80]),
            (256, &[0x01, 0x00]),
            (-1, &[0xff]),
            (-128, &[0x80]),
            (-129, &[0xff, 0x7f]),
            (i32::MAX as i64, &[0x7f, 0xff, 0xff, 0xff]),
            (i32::MIN as i64, &[0x80, 0x00, 0x00, 0x00]),
        ];
        for &(v, bytes) in cases {
            assert_eq!(integer_bytes(v), bytes, "{v}");
            assert_eq!(decode_integer(bytes).unwrap(), v);
        }
        assert_eq!(decode_integer(&[]), Err(BerError::IntegerRange));
        assert_eq!(decode_integer(&[0; 9]), Err(BerError::IntegerRange));
    }

    #[test]
    fn application_types_round_trip_with_exact_bytes() {
        let cases: Vec<(Value, Vec<u8>)> = vec![
            (Value::Counter32(0), vec![0x41, 0x01, 0x00]),
            (Value::Counter32(u32::MAX), vec![0x41, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff]),
            (Value::Gauge32(10_000), vec![0x42, 0x02, 0x27, 0x10]),
            (Value::TimeTicks(128), vec![0x43, 0x02, 0x00, 0x80]),
            (
                Value::Counter64(u64::MAX),
                vec![0x46, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (Value::Counter64(1 << 32), vec![0x46, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00]),
            (Value::IpAddress([10, 0, 0, 1]), vec![0x40, 0x04, 10, 0, 0, 1]),
            (Value::OctetString(b"J Gi0/0".to_vec()), [&[0x04, 0x07][..], b"J Gi0/0"].concat()),
            (Value::Null, vec![0x05, 0x00]),
            (Value::NoSuchObject, vec![0x80, 0x00]),
            (Value::NoSuchInstance, vec![0x81, 0x00]),
            (Value::EndOfMibView, vec![0x82, 0x00]),
            (Value::Integer(-5), vec![0x02, 0x01, 0xfb]),
            // 32473 = 1 * 128^2 + 125 * 128 + 89: base-128 0x81 0xfd 0x59.
            (Value::Oid(oid("1.3.6.1.4.1.32473.1")), vec![0x06, 0x09, 0x2b, 6, 1, 4, 1, 0x81, 0xfd, 0x59, 1]),
        ];
        for (v, bytes) in cases {
            let mut out = Vec::new();
            push_value(&mut out, &v);
            assert_eq!(out, bytes, "{v:?}");
            let mut r = Reader::new(&out);
            let (t, c) = r.read_tlv().unwrap();
            assert_eq!(decode_value(t, c).unwrap(), v);
        }
    }

    #[test]
    fn oids_round_trip_including_large_arcs() {
        for s in [
            "1.3.6.1.2.1.1.1.0",
            "1.3.6.1.2.1.31.1.1.1.6.4294967295",
            "2.999.3",
            "0.0",
            "1.39.127.128.16383.16384",
        ] {
            let o = oid(s);
            let b = oid_bytes(&o);
            assert_eq!(decode_oid(&b).unwrap(), o, "{s}");
        }
        assert_eq!(oid_bytes(&oid("1.3.6.1")), vec![0x2b, 6, 1]);
        // An arc past 32 bits, a non-minimal arc, an OID cut inside an arc: errors.
        assert_eq!(decode_oid(&[0x2b, 0x90, 0x80, 0x80, 0x80, 0x00]), Err(BerError::BadOid));
        assert_eq!(decode_oid(&[0x2b, 0x80, 0x01]), Err(BerError::BadOid));
        assert_eq!(decode_oid(&[0x2b, 0x81]), Err(BerError::BadOid));
        assert_eq!(decode_oid(&[]), Err(BerError::BadOid));
        let long = vec![1u8; MAX_OID_LEN + 1];
        assert_eq!(decode_oid(&long), Err(BerError::BadOid));
    }

    #[test]
    fn oid_order_is_mib_walk_order() {
        let mut v = [
            oid("1.3.6.1.2.1.2.2.1.10.1"),
            oid("1.3.6.1.2.1.2.2.1.2"),
            oid("1.3.6.1.2.1.2.2.1.2.10"),
            oid("1.3.6.1.2.1.2.2.1.2.9"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(|o| o.to_string()).collect();
        assert_eq!(
            s,
            [
                "1.3.6.1.2.1.2.2.1.2",
                "1.3.6.1.2.1.2.2.1.2.9",
                "1.3.6.1.2.1.2.2.1.2.10",
                "1.3.6.1.2.1.2.2.1.10.1"
            ]
        );
    }

    #[test]
    fn long_form_lengths_round_trip() {
        let big = Value::OctetString(vec![b'x'; 300]);
        let mut out = Vec::new();
        push_value(&mut out, &big);
        assert_eq!(&out[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let mut r = Reader::new(&out);
        let (t, c) = r.read_tlv().unwrap();
        assert_eq!(decode_value(t, c).unwrap(), big);
        // message_len agrees with the encoder across the 127/128 and 255/256 boundaries.
        let pdu =
            Pdu { kind: PduType::Response, request_id: 7, error_status: 0, error_index: 0, varbinds: vec![] };
        for n in [0, 100, 127, 128, 200, 255, 256, 1400, 70000] {
            let vbs = vec![0u8; n];
            assert_eq!(
                encode_message(1, b"z-public", &pdu, &vbs).len(),
                message_len(1, b"z-public", &pdu, n),
                "{n}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_errors() {
        // Truncated at every length.
        for n in 0..GET_SYSDESCR.len() {
            assert!(Message::decode(&GET_SYSDESCR[..n]).is_err(), "prefix {n}");
        }
        // Trailing byte after the message.
        let mut t = GET_SYSDESCR.to_vec();
        t.push(0);
        assert_eq!(Message::decode(&t).unwrap_err().error, BerError::Trailing);
        // Indefinite length.
        assert_eq!(Reader::new(&[0x30, 0x80, 0, 0]).read_tlv(), Err(BerError::BadLength));
        // Length of 5 bytes.
        assert_eq!(Reader::new(&[0x04, 0x85, 0, 0, 0, 0, 1]).read_tlv(), Err(BerError::BadLength));
        // Multi-byte tag.
        assert_eq!(Reader::new(&[0x1f, 0x01, 0x00]).read_tlv(), Err(BerError::BadTag));
        // A length pointing far past the end.
        assert_eq!(Reader::new(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]).read_tlv(), Err(BerError::Truncated));
        // Unknown PDU tag after a good version: the version is reported.
        let mut u = GET_SYSDESCR.to_vec();
        u[13] = 0xa9;
        let f = Message::decode(&u).unwrap_err();
        assert_eq!((f.error, f.version), (BerError::UnexpectedTag(0xa9), Some(1)));
        // Request id beyond 32 bits.
        let big_id = [
            0x30, 0x2a, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x1d, 0x02,
            0x05, 0x01, 0x12, 0x34, 0x56, 0x78, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
        ];
        assert_eq!(Message::decode(&big_id).unwrap_err().error, BerError::IntegerRange);
    }
}
