use traceflow_shared::pii::*;

#[test]
fn smoke() {
    let e = Engine::default();
    for t in [
        "mail me at priya.sharma@example.co.in or call +91 98765 43210",
        "card 4111 1111 1111 1111 exp 12/26",
        "Aadhaar: 2345 6789 0124 and PAN ABCPE1234F, IFSC HDFC0001234",
        "pay to ramesh@okaxis now",
        "GSTIN 27AAPFU0939F1ZV; IBAN DE89 3704 0044 0532 0130 00",
        "ip 192.168.1.20 and fe80::1ff:fe23:4567:890a mac 00:1A:2B:3C:4D:5E",
        "ssn 123-45-6789",
        "Authorization: Bearer abcdef1234567890XYZ",
        "https://bob:hunter2@example.com/x?token=abc123&email=a%40b.com",
        "Dear Priya Sharma, your order",
        "ts 1732265000000 order 98765432101",
        "password=hunter22",
        "call me at (415) 555-0132 or 020 7946 0958",
    ] {
        let d = e.scan_text(t);
        let parts: Vec<String> = d.iter().map(|d| format!("{:?}:{}", d.entity, &t[d.start..d.end])).collect();
        eprintln!("{t}\n   -> {parts:?}");
    }
}
