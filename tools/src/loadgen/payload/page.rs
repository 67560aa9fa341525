//! The recorded page: the document, its head and CSS, the site's chrome and content.

use super::*;

pub(super) const SITES: &[&str] = &[
    "https://app.northwind-bank.in/onboarding/apply",
    "https://secure.paysphere.co.uk/checkout/payment",
    "https://banking.example-finanz.de/konto/eroeffnen",
    "https://my.lakeshore-credit.com/apply/personal-loan",
];

pub(super) fn page_url(rng: &mut Rng, p: &Person) -> String {
    let mut url = format!(
        "{}?step={}&ref={}&utm_source=email&utm_campaign=onboarding_q4",
        pick(rng, SITES),
        pick(rng, &["details", "kyc", "payment", "address"]),
        digits(rng, 10)
    );
    // Marketing links often carry the recipient's contact details in the query string.
    match rng.u8(0..4) {
        0 => url.push_str(&format!("&email={}", url_encode(&p.email))),
        1 => url.push_str(&format!("&mobile={}", url_encode(&p.phone))),
        _ => {}
    }
    url
}

pub(super) fn document(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let doctype = json!({"type": 1, "name": "html", "publicId": "", "systemId": ""});
    let head = head(rng, p, now_ms);
    let body = body(rng, p, now_ms);
    let html = el("html", json!({"lang": "en", "data-theme": "light"}), vec![head, body]);
    object([("type", 0.into()), ("childNodes", Value::Array(vec![doctype, html]))])
}

pub(super) fn head(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let title = format!("Open an account – {} | Northwind Bank", p.full_name());
    let css_href = format!("https://cdn.northwind-bank.in/static/css/app.{}.css", hex(rng, 8));
    el(
        "head",
        json!({}),
        vec![
            void_el("meta", json!({"charset": "utf-8"})),
            void_el("meta", json!({"name": "viewport", "content": "width=device-width, initial-scale=1"})),
            text_el("title", json!({}), title),
            void_el("meta", json!({"name": "description", "content": "Open a savings account online in 10 minutes."})),
            void_el("link", json!({"rel": "stylesheet", "href": css_href})),
            void_el("link", json!({"rel": "icon", "type": "image/png", "href": "/favicon-32.png"})),
            el("style", json!({"type": "text/css", "data-styled": "active"}), vec![style_text(stylesheet(rng))]),
            text_el("script", json!({"type": "text/javascript", "nonce": hex(rng, 22)}), boot_script(rng, p, now_ms)),
        ],
    )
}

pub(super) const BASE_CSS: &str = r#":root{--brand:#0b5cab;--brand-dark:#083e75;--danger:#c62828;--radius:6px;--font:"Inter",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font-family:var(--font);font-size:15px;line-height:1.5;color:#1f2933;background:#f5f7fa}
.site-header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.nav-link{color:var(--brand);text-decoration:none;padding:8px 12px;border-radius:var(--radius)}
.nav-link:hover,.nav-link:focus-visible{background:rgba(11,92,171,.08)}
.tf-form{background:#fff;border:1px solid #e4e7eb;border-radius:var(--radius);padding:24px;margin:24px 0}
.form-group{margin-bottom:16px}
.form-label{display:block;font-weight:600;margin-bottom:4px}
.form-control,.form-select{width:100%;padding:10px 12px;border:1px solid #cbd2d9;border-radius:var(--radius);font:inherit}
.form-control:focus,.form-select:focus{outline:2px solid var(--brand);outline-offset:1px}
.form-control.is-invalid{border-color:var(--danger)}
.invalid-feedback{color:var(--danger);font-size:13px}
.password-field{letter-spacing:.2em;font-family:ui-monospace,monospace}
input[type=password]{-webkit-text-security:disc}
input[type=password]::-ms-reveal,input[type=password]::-ms-clear{display:none}
input[autocomplete=cc-number],.card-number{font-variant-numeric:tabular-nums;letter-spacing:.05em}
input[name=aadhaar],input[name=pan]{text-transform:uppercase}
.table{width:100%;border-collapse:collapse}
.table th,.table td{padding:8px 10px;border-bottom:1px solid #e4e7eb;text-align:left}
.table-striped tbody tr:nth-of-type(odd){background:#f9fafb}
.toast{position:fixed;right:24px;bottom:24px;min-width:280px;padding:12px 16px;border-radius:var(--radius);background:#102a43;color:#fff}
@media (max-width:640px){.site-header{padding:8px 12px}.tf-form{padding:16px}.table{font-size:13px}}
"#;

pub(super) const CSS_COMPONENTS: &[&str] =
    &["card", "badge", "stepper", "tooltip", "banner", "chip", "drawer", "tab", "otp", "kyc"];

/// Base rules plus a run of generated utility classes, like a CSS-in-JS runtime accumulates.
pub(super) fn stylesheet(rng: &mut Rng) -> String {
    let mut css = String::from(BASE_CSS);
    for i in 0..rng.usize(15..=40) {
        css.push_str(&format!(
            ".tf-{}-{i}{{margin:{}px {}px;padding:{}px;color:#{};background:#{};border-radius:{}px}}\n",
            pick(rng, CSS_COMPONENTS),
            rng.u8(0..32),
            rng.u8(0..32),
            rng.u8(0..24),
            hex(rng, 6),
            hex(rng, 6),
            rng.u8(0..12)
        ));
    }
    css
}

pub(super) const BOOT_JS: &str = r##"!function(){"use strict";var e=window,t=document,n=e.__TF_BOOT__||{},r=[];function o(e){return null==e?"":String(e).replace(/[&<>"']/g,function(e){return"&#"+e.charCodeAt(0)+";"})}function i(e,n){var r=t.querySelector(e);return r?(n&&r.setAttribute("data-bound","1"),r):null}function a(t,n,o){r.push({t:t,p:n,ts:Date.now()}),r.length>50&&r.shift(),o&&e.requestIdleCallback&&e.requestIdleCallback(s)}function s(){if(r.length){var t=JSON.stringify({q:r.splice(0,r.length),sid:n.sessionId});navigator.sendBeacon?navigator.sendBeacon("/api/v2/telemetry",t):fetch("/api/v2/telemetry",{method:"POST",body:t,keepalive:!0})}}t.addEventListener("DOMContentLoaded",function(){Array.prototype.forEach.call(t.querySelectorAll("form.tf-form"),function(e){e.addEventListener("submit",function(t){e.checkValidity()||(t.preventDefault(),t.stopPropagation(),a("invalid",{id:e.id},!0)),e.classList.add("was-validated")},!1)}),Array.prototype.forEach.call(t.querySelectorAll("input[data-mask]"),function(e){e.addEventListener("input",function(){var t=e.value.replace(/\D/g,"");e.value=t.replace(/(\d{4})(?=\d)/g,"$1 ")})});var c=i("#main",!0);c&&a("ready",{h:c.scrollHeight},!1)}),e.addEventListener("pagehide",s),e.tf=function(e,t){a(e,t,!0)},e.tfEscape=o}();"##;

/// Inline bootstrap script. Server-rendered apps routinely inline the signed-in user's profile here, which is
/// exactly the kind of PII a redactor must not miss.
pub(super) fn boot_script(rng: &mut Rng, p: &Person, now_ms: u64) -> String {
    let config = json!({
        "sessionId": uuid(rng),
        "customer": {
            "id": digits(rng, 10),
            "name": p.full_name(),
            "email": p.email,
            "mobile": p.phone,
            "segment": "retail",
        },
        "flags": {"newKyc": true, "upiCollect": rng.bool(), "cardTokenisation": rng.bool()},
        "build": "2024.11.3",
        "renderedAt": now_ms,
        "edge": ipv4(rng),
    });
    format!("window.__TF_BOOT__={config};{BOOT_JS}")
}

pub(super) fn body(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let header = page_header(rng, p, now_ms);
    let mut main = vec![hero(rng, p, now_ms)];
    main.push(account_form(rng, 0, p));
    main.push(kyc_form(rng, 0, p));
    main.push(payment_form(rng, 0, p));
    main.push(address_form(rng, 0, p));
    // Co-applicant, nominee and beneficiary forms: one of the two size knobs, with the statement tables.
    for idx in 1..=rng.usize(0..=3) {
        let other = Person::random(rng);
        let form = match rng.u8(0..4) {
            0 => account_form(rng, idx, &other),
            1 => kyc_form(rng, idx, &other),
            2 => payment_form(rng, idx, &other),
            _ => address_form(rng, idx, &other),
        };
        main.push(form);
    }
    let mut rows_left = rng.usize(40..=110);
    let mut table = 0;
    while rows_left > 0 {
        let rows = rows_left.min(rng.usize(15..=45));
        main.push(statement_section(rng, p, table, rows, now_ms));
        rows_left -= rows;
        table += 1;
    }
    let paragraphs = rng.usize(6..=20);
    main.push(info_section(rng, p, paragraphs));
    let footer = page_footer(rng, now_ms);
    let attributes =
        json!({"class": "page-onboarding", "data-route": "/onboarding/apply", "data-customer-id": digits(rng, 10)});
    el(
        "body",
        attributes,
        vec![
            comment(" Northwind Bank web 2024.11.3 (build 5f3c9e1) "),
            header,
            el("main", json!({"id": "main", "role": "main", "class": "container"}), main),
            footer,
        ],
    )
}

pub(super) fn page_header(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let email = url_encode(&p.email);
    let customer = digits(rng, 10);
    let mut items = Vec::new();
    for (label, path) in [
        ("Dashboard", "/dashboard"),
        ("Accounts", "/accounts"),
        ("Statements", "/accounts/statement"),
        ("Payments", "/payments/new"),
        ("Cards", "/cards"),
        ("Support", "/support/ticket"),
    ] {
        let href = format!("{path}?customer_id={customer}&email={email}&session_ts={now_ms}&utm_source=app");
        let link = text_el("a", json!({"class": "nav-link", "href": href, "data-track": label.to_lowercase()}), label);
        items.push(el("li", json!({"class": "nav-item"}), vec![link]));
    }
    let logo_path = svg_el("path", json!({"d": "M4 4h16v16H4z M8 8h8v8H8z", "fill": "#0b5cab"}), Vec::new());
    let logo_svg = svg_el(
        "svg",
        json!({"xmlns": "http://www.w3.org/2000/svg", "viewBox": "0 0 24 24", "width": "32", "height": "32"}),
        vec![logo_path],
    );
    let avatar = format!("https://cdn.northwind-bank.in/avatar?email={email}&size=64&v={}", hex(rng, 6));
    let user_menu = el(
        "div",
        json!({"class": "user-menu", "data-customer-email": p.email, "data-customer-id": customer}),
        vec![
            void_el("img", json!({"src": avatar, "alt": p.full_name(), "class": "avatar", "width": "32"})),
            text_el("span", json!({"class": "user-name"}), format!("Welcome back, {}", p.full_name())),
            text_el("span", json!({"class": "user-email"}), p.email.as_str()),
        ],
    );
    el(
        "header",
        json!({"class": "site-header"}),
        vec![
            el("a", json!({"href": "/", "class": "brand", "aria-label": "Northwind Bank home"}), vec![logo_svg]),
            el("nav", json!({"aria-label": "Primary"}), vec![el("ul", json!({"class": "nav"}), items)]),
            user_menu,
        ],
    )
}

pub(super) fn hero(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let status = format!(
        "Application {} started {} from IP {}.",
        order_id(rng),
        format_datetime(now_ms.saturating_sub(rng.u64(60_000..7_200_000))),
        ipv4(rng)
    );
    let steps = ["Personal details", "KYC verification", "Fund your account", "Delivery address"]
        .into_iter()
        .map(|step| text_el("li", json!({"class": "step"}), step))
        .collect();
    el(
        "section",
        json!({"class": "hero"}),
        vec![
            text_el("h1", json!({}), format!("Welcome, {}! Let's finish opening your account", p.first)),
            text_el("p", json!({"class": "lead"}), paragraph_text(rng, p)),
            text_el("div", json!({"class": "alert alert-info", "role": "status"}), status),
            el("ol", json!({"class": "steps"}), steps),
        ],
    )
}

pub(super) fn info_section(rng: &mut Rng, p: &Person, paragraphs: usize) -> Value {
    let mut children = vec![text_el("h2", json!({}), "Important information")];
    for _ in 0..paragraphs {
        children.push(text_el("p", json!({"class": "small text-muted"}), paragraph_text(rng, p)));
    }
    let mail = format!("mailto:{}?subject=Account%20{}", p.email, digits(rng, 8));
    let tel = format!("tel:{}", p.phone.replace(' ', ""));
    children.push(text_el("a", json!({"href": mail, "class": "contact-link"}), format!("Email {}", p.email)));
    children.push(text_el("a", json!({"href": tel, "class": "contact-link"}), format!("Call {}", p.phone)));
    el("section", json!({"class": "card info"}), children)
}

pub(super) fn page_footer(rng: &mut Rng, now_ms: u64) -> Value {
    let officer = Person::random(rng);
    let build = format!("Rendered at {now_ms} by {} · request {}", ipv4(rng), uuid(rng));
    el(
        "footer",
        json!({"class": "site-footer"}),
        vec![
            text_el(
                "p",
                json!({}),
                "Northwind Bank Ltd., 12th Floor, One BKC, Bandra Kurla Complex, Mumbai 400051. \
                 CIN U65190MH2019PLC123456.",
            ),
            text_el(
                "p",
                json!({"class": "grievance"}),
                format!("Grievance officer: {} · {} · {}", officer.full_name(), officer.email, officer.phone),
            ),
            text_el("p", json!({"class": "build-info"}), build),
        ],
    )
}

pub(super) const TXN_COLUMNS: [&str; 7] =
    ["Date", "Description", "Reference", "Counterparty", "Instrument", "Amount", "IP"];
pub(super) const MERCHANTS: &[&str] = &[
    "Swiggy",
    "Zomato",
    "BigBasket",
    "Amazon Pay",
    "Flipkart",
    "Uber India",
    "Tesco Stores",
    "Sainsbury's",
    "Whole Foods Market",
    "REWE Markt",
    "Deutsche Bahn",
    "IRCTC",
    "Reliance Digital",
];

pub(super) fn statement_section(rng: &mut Rng, p: &Person, idx: usize, rows: usize, now_ms: u64) -> Value {
    let account = digits(rng, 12);
    let heading = format!("Statement for account XXXXXXXX{}", account.get(8..).unwrap_or_default());
    let head_cells = TXN_COLUMNS.iter().map(|&c| text_el("th", json!({"scope": "col"}), c)).collect();
    let body_rows = (0..rows).map(|_| transaction_row(rng, p, now_ms)).collect();
    el(
        "section",
        json!({"class": "card statement", "id": format!("statement-{idx}")}),
        vec![
            text_el("h2", json!({}), heading),
            el(
                "table",
                json!({"class": "table table-striped transactions", "data-account": account}),
                vec![el("thead", json!({}), vec![el("tr", json!({}), head_cells)]), el("tbody", json!({}), body_rows)],
            ),
        ],
    )
}

pub(super) fn transaction_row(rng: &mut Rng, p: &Person, now_ms: u64) -> Value {
    let counterparty = Person::random(rng);
    let ts = now_ms.saturating_sub(rng.u64(60_000..90 * 86_400_000));
    let (description, instrument) = match rng.u8(0..5) {
        0 => (
            format!(
                "UPI/DR/{}/{}/{}",
                digits(rng, 12),
                upi_id(rng, &counterparty),
                pick(rng, &["Groceries", "Rent", "Dinner"])
            ),
            upi_id(rng, p),
        ),
        1 => (
            format!("NEFT-{}-{}-{}", ifsc(rng), counterparty.full_name().to_uppercase(), digits(rng, 6)),
            format!("A/c {}", digits(rng, 14)),
        ),
        2 => (format!("POS {} {}", pick(rng, MERCHANTS).to_uppercase(), address(rng, p.locale).city), masked_card(rng)),
        3 => (format!("SEPA credit from {} IBAN {}", counterparty.full_name(), iban(rng)), iban(rng)),
        // Some legacy statement renderers still print the full card number.
        _ => (format!("Card payment {} ref {}", pick(rng, MERCHANTS), order_id(rng)), card_number(rng)),
    };
    let cells = [
        format_datetime(ts),
        description,
        uuid(rng),
        counterparty.full_name(),
        instrument,
        money_text(rng, p.locale),
        ipv4(rng),
    ];
    el(
        "tr",
        json!({"class": "txn-row", "data-txn-id": uuid(rng), "data-ts": ts.to_string()}),
        cells.into_iter().map(|cell| text_el("td", json!({}), cell)).collect(),
    )
}
