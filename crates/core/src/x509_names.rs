//! The names an X.509 certificate is issued to: its subject's common names
//! and its DNS subject alternative names. Only these are read (for the SSL
//! torrent rule that a peer certificate names the torrent, checked in
//! lt-session's `ssl.rs`); the signature chain is checked by rustls/webpki. A small strict DER walker, bounded by
//! its input, that returns `None` for anything malformed.

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
/// `[0]` explicit version, `[3]` explicit extensions of `TBSCertificate`.
const CTX_VERSION: u8 = 0xa0;
const CTX_EXTENSIONS: u8 = 0xa3;
/// `dNSName [2] IA5String` inside `GeneralNames`.
const GN_DNS: u8 = 0x82;
/// id-at-commonName 2.5.4.3
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// id-ce-subjectAltName 2.5.29.17
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// Names found in a certificate.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertNames {
    pub common_names: Vec<Vec<u8>>,
    pub dns: Vec<Vec<u8>>,
}

/// Reads one TLV from the front of `input`: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags do not occur here
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in rest.get(..n)? {
            len = (len << 8) | b as usize;
        }
        (len, rest.get(n..)?)
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// Reads a TLV that must have tag `want`.
fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = tlv(input)?;
    (tag == want).then_some((body, rest))
}

/// The subject common names and DNS alternative names of a DER certificate.
pub fn cert_names(der: &[u8]) -> Option<CertNames> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if rest.first() == Some(&CTX_VERSION) {
        rest = tlv(rest)?.2;
    }
    // serialNumber, signature, issuer, validity
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (subject, after) = expect(rest, SEQUENCE)?;
    let mut names = CertNames::default();
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (set, next) = expect(rdns, SET)?;
        rdns = next;
        let mut atvs = set;
        while !atvs.is_empty() {
            let (atv, next) = expect(atvs, SEQUENCE)?;
            atvs = next;
            let (oid, value) = expect(atv, OID)?;
            if oid == OID_CN {
                let (_, v, _) = tlv(value)?;
                names.common_names.push(v.to_vec());
            }
        }
    }
    // subjectPublicKeyInfo, then optional unique ids and extensions
    let mut rest = tlv(after)?.2;
    while !rest.is_empty() {
        let (tag, body, next) = tlv(rest)?;
        rest = next;
        if tag != CTX_EXTENSIONS {
            continue;
        }
        let (mut exts, _) = expect(body, SEQUENCE)?;
        while !exts.is_empty() {
            let (ext, next) = expect(exts, SEQUENCE)?;
            exts = next;
            let (oid, mut ext_rest) = expect(ext, OID)?;
            if ext_rest.first() == Some(&BOOLEAN) {
                ext_rest = tlv(ext_rest)?.2;
            }
            if oid != OID_SAN {
                continue;
            }
            let (value, _) = expect(ext_rest, OCTET_STRING)?;
            let (mut gns, _) = expect(value, SEQUENCE)?;
            while !gns.is_empty() {
                let (tag, v, next) = tlv(gns)?;
                gns = next;
                if tag == GN_DNS {
                    names.dns.push(v.to_vec());
                }
            }
        }
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// A certificate skeleton with the given subject CN and SAN DNS names.
    fn cert(cn: Option<&str>, dns: &[&str]) -> Vec<u8> {
        let version = seq(0xa0, &seq(0x02, &[2]));
        let serial = seq(0x02, &[1]);
        let alg = seq(SEQUENCE, &seq(OID, &[0x2a, 0x86, 0x48]));
        let issuer = seq(SEQUENCE, &[]);
        let validity = seq(SEQUENCE, &[]);
        let mut subject_body = Vec::new();
        subject_body.extend(seq(
            SET,
            &seq(
                SEQUENCE,
                &cat(&[seq(OID, &[0x55, 4, 10]), seq(0x0c, b"org")]),
            ),
        ));
        if let Some(cn) = cn {
            subject_body.extend(seq(
                SET,
                &seq(
                    SEQUENCE,
                    &cat(&[seq(OID, OID_CN), seq(0x0c, cn.as_bytes())]),
                ),
            ));
        }
        let subject = seq(SEQUENCE, &subject_body);
        let spki = seq(SEQUENCE, &[0; 10]);
        let mut parts = vec![
            version,
            serial,
            alg.clone(),
            issuer,
            validity,
            subject,
            spki,
        ];
        if !dns.is_empty() {
            let gns: Vec<u8> = dns.iter().flat_map(|d| seq(GN_DNS, d.as_bytes())).collect();
            let san = seq(
                SEQUENCE,
                &cat(&[
                    seq(OID, OID_SAN),
                    seq(BOOLEAN, &[0]),
                    seq(OCTET_STRING, &seq(SEQUENCE, &gns)),
                ]),
            );
            let other = seq(
                SEQUENCE,
                &cat(&[seq(OID, &[0x55, 0x1d, 0x13]), seq(OCTET_STRING, &[0x30, 0])]),
            );
            parts.push(seq(CTX_EXTENSIONS, &seq(SEQUENCE, &cat(&[other, san]))));
        }
        let tbs = seq(SEQUENCE, &cat(&parts));
        seq(SEQUENCE, &cat(&[tbs, alg, seq(0x03, &[0, 1, 2])]))
    }

    #[test]
    fn reads_common_name_and_dns_names() {
        let n = cert_names(&cert(Some("*"), &[])).expect("parses");
        assert_eq!(n.common_names, vec![b"*".to_vec()]);
        assert!(n.dns.is_empty());
        let n = cert_names(&cert(None, &["a.bin", "other"])).expect("parses");
        assert!(n.common_names.is_empty());
        assert_eq!(n.dns, vec![b"a.bin".to_vec(), b"other".to_vec()]);
    }

    #[test]
    fn malformed_input_is_rejected_without_panicking() {
        let good = cert(Some("name"), &["x"]);
        for cut in 0..good.len() {
            let _ = cert_names(&good[..cut]);
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0xff;
            let _ = cert_names(&bad);
        }
        assert_eq!(cert_names(&[]), None);
        assert_eq!(cert_names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(cert_names(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
    }
}
