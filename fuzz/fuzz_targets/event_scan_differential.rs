//! The fast scanner against serde_json on arbitrary bytes (INVARIANT scan-subset): `parse_document`
//! must hand over exactly what `parse_document_reference` (serde_json alone) does, errors and raw
//! slices included, and whenever `scan_record` succeeds serde_json must accept the same text and
//! yield an equal `CloudTrailEvent`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use policy_rules::event::{parse_document, parse_document_reference, CloudTrailEvent};
use policy_rules::event_scan::scan_record;

/// Where each raw slice of a record sits (address and length), records inside it included.
fn raw_slices(e: &CloudTrailEvent<'_>, out: &mut Vec<Option<(usize, usize)>>) {
    for raw in [e.request_parameters, e.response_elements, e.resources] {
        out.push(raw.map(|r| (r.get().as_ptr() as usize, r.get().len())));
    }
    if let Some(d) = &e.detail {
        raw_slices(d, out);
    }
    for r in e.records.iter().flatten() {
        raw_slices(r, out);
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut fast, mut slow) = (Vec::new(), Vec::new());
    let n_fast = parse_document(data, |i, r| fast.push((i, r)));
    let n_slow = parse_document_reference(data, |i, r| slow.push((i, r)));
    assert_eq!(fast, slow, "parse_document differs from serde_json");
    assert_eq!(n_fast, n_slow);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (_, e) in fast.iter().filter_map(|(i, r)| r.as_ref().ok().map(|e| (i, e))) {
        raw_slices(&e.record, &mut a);
    }
    for (_, e) in slow.iter().filter_map(|(i, r)| r.as_ref().ok().map(|e| (i, e))) {
        raw_slices(&e.record, &mut b);
    }
    assert_eq!(a, b, "raw slices differ");

    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(scanned) = scan_record(text) {
            let reference = serde_json::from_str::<CloudTrailEvent<'_>>(text)
                .expect("serde_json accepts what the scanner accepts");
            assert_eq!(scanned, reference, "scan_record differs from serde_json");
            let (mut a, mut b) = (Vec::new(), Vec::new());
            raw_slices(&scanned, &mut a);
            raw_slices(&reference, &mut b);
            assert_eq!(a, b, "raw slices differ");
        }
    }
});
