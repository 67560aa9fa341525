//! The page's forms: sign-up, KYC, payment and address forms with the fields real ones have.

use super::*;

pub(super) const INDIAN_STATES: &[&str] = &[
    "Andhra Pradesh",
    "Arunachal Pradesh",
    "Assam",
    "Bihar",
    "Chhattisgarh",
    "Goa",
    "Gujarat",
    "Haryana",
    "Himachal Pradesh",
    "Jharkhand",
    "Karnataka",
    "Kerala",
    "Madhya Pradesh",
    "Maharashtra",
    "Manipur",
    "Meghalaya",
    "Mizoram",
    "Nagaland",
    "Odisha",
    "Punjab",
    "Rajasthan",
    "Sikkim",
    "Tamil Nadu",
    "Telangana",
    "Tripura",
    "Uttar Pradesh",
    "Uttarakhand",
    "West Bengal",
    "Delhi",
    "Jammu and Kashmir",
    "Ladakh",
    "Puducherry",
];
pub(super) const COUNTRIES: &[&str] = &[
    "India",
    "United States",
    "United Kingdom",
    "Germany",
    "Australia",
    "Austria",
    "Bangladesh",
    "Belgium",
    "Brazil",
    "Canada",
    "China",
    "Denmark",
    "Egypt",
    "Finland",
    "France",
    "Indonesia",
    "Ireland",
    "Italy",
    "Japan",
    "Kenya",
    "Malaysia",
    "Mexico",
    "Nepal",
    "Netherlands",
    "New Zealand",
    "Nigeria",
    "Norway",
    "Pakistan",
    "Philippines",
    "Poland",
    "Portugal",
    "Qatar",
    "Saudi Arabia",
    "Singapore",
    "South Africa",
    "Spain",
    "Sri Lanka",
    "Sweden",
    "Switzerland",
    "United Arab Emirates",
];
pub(super) const ID_TYPES: &[&str] =
    &["PAN card", "Aadhaar", "Passport", "Driving licence", "Voter ID", "National ID card"];
pub(super) const OCCUPATIONS: &[&str] = &[
    "Salaried (private sector)",
    "Salaried (government)",
    "Self-employed professional",
    "Business owner",
    "Student",
    "Retired",
    "Homemaker",
];
pub(super) const INCOME_BANDS: &[&str] =
    &["Below ₹2.5 lakh", "₹2.5–5 lakh", "₹5–10 lakh", "₹10–25 lakh", "₹25 lakh – ₹1 crore", "Above ₹1 crore"];
pub(super) const GENDERS: &[&str] = &["Select", "Female", "Male", "Non-binary", "Prefer not to say"];

/// Static description of one text-like input.
#[derive(Clone, Copy)]
pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) kind: &'static str,
    pub(super) autocomplete: &'static str,
}

pub(super) const fn spec(
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
) -> Spec {
    Spec { name, label, kind, autocomplete }
}

pub(super) fn label(for_id: &str, content: &str) -> Value {
    text_el("label", json!({"for": for_id, "class": "form-label"}), content)
}

/// Label plus input, in the wrapper markup design systems emit. Design systems mirror the value into data-*
/// attributes for their validation code, which is how PII ends up there too.
pub(super) fn field_group(form: &str, spec: Spec, value: String, placeholder: String) -> Value {
    let id = format!("{form}-{}", spec.name);
    let password = spec.kind == "password";
    // rrweb masks password inputs by default: the recorded value is one asterisk per character.
    let value = if password { "*".repeat(value.chars().count()) } else { value };
    let class = if password { "form-control password-field" } else { "form-control" };
    let mut attributes = json!({
        "type": spec.kind,
        "name": spec.name,
        "id": id,
        "class": class,
        "placeholder": placeholder,
        "value": value,
        "autocomplete": spec.autocomplete,
        "aria-label": spec.label,
        "required": "",
        "data-testid": format!("{id}-input"),
        "data-field": spec.name,
    });
    if !password && !value.is_empty() {
        set_field(&mut attributes, "data-initial-value", value.into());
    }
    el(
        "div",
        json!({"class": "form-group", "data-field-group": spec.name}),
        vec![label(&id, spec.label), void_el("input", attributes)],
    )
}

/// rrweb records the selected option as `selected: true` and the select's current value as an attribute.
pub(super) fn select_group(form: &str, name: &str, label_text: &str, options: &[&str], selected: usize) -> Value {
    let id = format!("{form}-{name}");
    let option_nodes = options
        .iter()
        .enumerate()
        .map(|(i, &option)| {
            let mut attributes = json!({"value": option.to_lowercase().replace(' ', "-")});
            if i == selected {
                set_field(&mut attributes, "selected", true.into());
            }
            text_el("option", attributes, option)
        })
        .collect();
    let value = options.get(selected).copied().unwrap_or_default();
    let attributes = json!({
        "name": name,
        "id": id,
        "class": "form-select",
        "aria-label": label_text,
        "value": value,
        "data-field": name,
    });
    el("div", json!({"class": "form-group"}), vec![label(&id, label_text), el("select", attributes, option_nodes)])
}

/// rrweb stores a textarea's content in its `value` attribute, not as a child text node.
pub(super) fn textarea_group(form: &str, name: &str, label_text: &str, value: String) -> Value {
    let id = format!("{form}-{name}");
    let attributes = json!({"name": name, "id": id, "class": "form-control", "rows": "3", "value": value});
    el("div", json!({"class": "form-group"}), vec![label(&id, label_text), void_el("textarea", attributes)])
}

pub(super) fn checkbox_group(form: &str, name: &str, label_text: &str, checked: bool) -> Value {
    let id = format!("{form}-{name}");
    let mut attributes =
        json!({"type": "checkbox", "name": name, "id": id, "class": "form-check-input", "value": "on"});
    if checked {
        set_field(&mut attributes, "checked", true.into());
    }
    el("div", json!({"class": "form-check"}), vec![void_el("input", attributes), label(&id, label_text)])
}

/// Wraps the fields in a `<form>` whose action URL leaks the applicant's email, as many real ones do.
pub(super) fn form_shell(rng: &mut Rng, form: &str, title: &str, p: &Person, fields: Vec<Value>) -> Value {
    let action =
        format!("/api/v2/forms/{form}/submit?applicant={}&email={}&channel=web", uuid(rng), url_encode(&p.email));
    let mut fieldset = Vec::with_capacity(fields.len() + 1);
    fieldset.push(text_el("legend", json!({"class": "visually-hidden"}), title));
    fieldset.extend(fields);
    let actions = vec![
        text_el(
            "button",
            json!({"type": "submit", "class": "btn btn-primary", "id": format!("{form}-submit")}),
            "Continue",
        ),
        text_el(
            "button",
            json!({"type": "button", "class": "btn btn-link", "data-action": "save-draft"}),
            "Save and finish later",
        ),
    ];
    el(
        "form",
        json!({
            "id": form,
            "class": "tf-form needs-validation",
            "method": "post",
            "action": action,
            "novalidate": "",
            "data-form-id": uuid(rng),
        }),
        vec![
            text_el("h2", json!({"class": "form-title"}), title),
            text_el("p", json!({"class": "form-intro"}), pii_sentence(rng, p)),
            el("fieldset", json!({"class": "form-fields"}), fieldset),
            el("div", json!({"class": "form-actions"}), actions),
        ],
    )
}

pub(super) fn account_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("account-{idx}");
    let example = Person::random(rng);
    let password = format!("{}{}!{}", p.first, rng.u16(10..10_000), upper(rng, 2));
    let gender = rng.usize(1..GENDERS.len());
    let fields = vec![
        field_group(
            &form,
            spec("first_name", "First name", "text", "given-name"),
            p.first.to_owned(),
            format!("e.g. {}", example.first),
        ),
        field_group(
            &form,
            spec("last_name", "Last name", "text", "family-name"),
            p.last.to_owned(),
            format!("e.g. {}", example.last),
        ),
        field_group(&form, spec("email", "Email address", "email", "email"), p.email.clone(), example.email.clone()),
        field_group(&form, spec("mobile", "Mobile number", "tel", "tel"), p.phone.clone(), example.phone.clone()),
        field_group(
            &form,
            spec("dob", "Date of birth", "date", "bday"),
            iso_date_of_birth(rng),
            "YYYY-MM-DD".to_owned(),
        ),
        select_group(&form, "gender", "Gender", GENDERS, gender),
        field_group(
            &form,
            spec("password", "Create password", "password", "new-password"),
            password.clone(),
            String::new(),
        ),
        field_group(
            &form,
            spec("password_confirm", "Confirm password", "password", "new-password"),
            password,
            String::new(),
        ),
        field_group(&form, spec("pan", "PAN", "text", "off"), pan(rng, p.last), pan(rng, example.last)),
        field_group(&form, spec("aadhaar", "Aadhaar number", "text", "off"), aadhaar(rng), "XXXX XXXX XXXX".to_owned()),
        field_group(
            &form,
            spec("nominee", "Nominee name", "text", "off"),
            example.full_name(),
            "Full name of nominee".to_owned(),
        ),
        checkbox_group(&form, "terms", "I agree to the terms and conditions", true),
    ];
    form_shell(rng, &form, "Open a savings account", p, fields)
}

pub(super) fn kyc_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("kyc-{idx}");
    let home = address(rng, p.locale);
    let example = address(rng, p.locale);
    let region = if p.locale == Locale::India {
        let selected = INDIAN_STATES.iter().position(|&s| s == home.region).unwrap_or(0);
        select_group(&form, "state", "State", INDIAN_STATES, selected)
    } else {
        field_group(
            &form,
            spec("region", "County / state", "text", "address-level1"),
            home.region.to_owned(),
            String::new(),
        )
    };
    let country = COUNTRIES.iter().position(|&c| c == home.country).unwrap_or(0);
    let (id_type, id_number) = match p.locale {
        Locale::India => (0, pan(rng, p.last)),
        _ => (2, format!("{}{}", rng.uppercase(), digits(rng, 8))),
    };
    let occupation = rng.usize(..OCCUPATIONS.len());
    let income = rng.usize(..INCOME_BANDS.len());
    let fields = vec![
        field_group(
            &form,
            spec("address_line1", "Address line 1", "text", "address-line1"),
            home.line1.clone(),
            example.line1,
        ),
        field_group(
            &form,
            spec("address_line2", "Landmark", "text", "address-line2"),
            "Near City Mall".to_owned(),
            String::new(),
        ),
        field_group(
            &form,
            spec("city", "City", "text", "address-level2"),
            home.city.to_owned(),
            example.city.to_owned(),
        ),
        region,
        field_group(
            &form,
            spec("postal_code", "PIN / postcode", "text", "postal-code"),
            home.postal.clone(),
            example.postal,
        ),
        select_group(&form, "country", "Country of residence", COUNTRIES, country),
        select_group(&form, "id_type", "Identity document", ID_TYPES, id_type),
        field_group(&form, spec("id_number", "Document number", "text", "off"), id_number, String::new()),
        field_group(&form, spec("aadhaar", "Aadhaar number", "text", "off"), aadhaar(rng), "1234 5678 9012".to_owned()),
        select_group(&form, "occupation", "Occupation", OCCUPATIONS, occupation),
        select_group(&form, "income", "Annual income", INCOME_BANDS, income),
        textarea_group(&form, "source_of_funds", "Source of funds", paragraph_text(rng, p)),
        checkbox_group(&form, "pep", "I am a politically exposed person", false),
        field_group(&form, spec("id_proof", "Upload proof of address", "file", "off"), String::new(), String::new()),
    ];
    form_shell(rng, &form, "Verify your identity (KYC)", p, fields)
}

pub(super) fn payment_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("payment-{idx}");
    let example = Person::random(rng);
    let expiry = format!("{:02}/{}", rng.u8(1..=12), rng.u8(25..=32));
    let account_len = rng.usize(9..=16);
    let fields = vec![
        field_group(
            &form,
            spec("cc_name", "Name on card", "text", "cc-name"),
            p.full_name().to_uppercase(),
            "NAME AS ON CARD".to_owned(),
        ),
        field_group(
            &form,
            spec("card_number", "Card number", "text", "cc-number"),
            card_number(rng),
            "1234 5678 9012 3456".to_owned(),
        ),
        field_group(&form, spec("cc_exp", "Expiry", "text", "cc-exp"), expiry, "MM/YY".to_owned()),
        field_group(&form, spec("cvv", "CVV", "password", "cc-csc"), digits(rng, 3), "CVV".to_owned()),
        field_group(
            &form,
            spec("billing_email", "Billing email", "email", "email"),
            p.email.clone(),
            example.email.clone(),
        ),
        field_group(
            &form,
            spec("upi_id", "UPI ID", "text", "off"),
            upi_id(rng, p),
            format!("e.g. {}", upi_id(rng, &example)),
        ),
        field_group(
            &form,
            spec("account_number", "Beneficiary account number", "text", "off"),
            digits(rng, account_len),
            String::new(),
        ),
        field_group(&form, spec("ifsc", "IFSC", "text", "off"), ifsc(rng), "e.g. HDFC0001234".to_owned()),
        field_group(&form, spec("iban", "IBAN (international transfers)", "text", "off"), iban(rng), iban(rng)),
        field_group(
            &form,
            spec("amount", "Amount", "text", "transaction-amount"),
            money_text(rng, p.locale),
            "0.00".to_owned(),
        ),
        textarea_group(&form, "remarks", "Remarks", pii_sentence(rng, p)),
        checkbox_group(&form, "save_card", "Save this card for faster payments", rng.bool()),
    ];
    form_shell(rng, &form, "Fund your account", p, fields)
}

pub(super) fn address_form(rng: &mut Rng, idx: usize, p: &Person) -> Value {
    let form = format!("address-{idx}");
    let home = address(rng, p.locale);
    let country = COUNTRIES.iter().position(|&c| c == home.country).unwrap_or(0);
    let fields = vec![
        field_group(&form, spec("full_name", "Full name", "text", "name"), p.full_name(), "As on your ID".to_owned()),
        field_group(
            &form,
            spec("street", "Street address", "text", "street-address"),
            home.line1.clone(),
            String::new(),
        ),
        field_group(&form, spec("city", "City", "text", "address-level2"), home.city.to_owned(), String::new()),
        field_group(
            &form,
            spec("region", "State / region", "text", "address-level1"),
            home.region.to_owned(),
            String::new(),
        ),
        field_group(
            &form,
            spec("postal_code", "Postal code", "text", "postal-code"),
            home.postal.clone(),
            String::new(),
        ),
        select_group(&form, "country", "Country", COUNTRIES, country),
        field_group(&form, spec("phone", "Phone for delivery", "tel", "tel"), p.phone.clone(), String::new()),
        textarea_group(
            &form,
            "instructions",
            "Delivery instructions",
            format!("Deliver to {}. Call {} on arrival.", home.one_line(), p.phone),
        ),
        checkbox_group(&form, "default", "Make this my default address", true),
    ];
    form_shell(rng, &form, "Card delivery address", p, fields)
}
