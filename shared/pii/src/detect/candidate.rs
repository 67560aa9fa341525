//! The built-in candidate patterns of the combined regex: what each looks like, and which byte classes a string
//! needs before it is worth trying.

use super::*;

/// A built-in candidate pattern. Order is priority: for candidates starting at the same byte, the first wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Candidate {
    Url,
    Jwt,
    UrlUserinfo,
    UrlParam,
    KnownSecret,
    SecretKv,
    Bearer,
    EmailUpi,
    Gstin,
    Iban,
    Pan,
    Ifsc,
    Mac,
    Ipv6,
    NameContext,
    Street,
    IdContext,
}

pub(super) const URL_PARAM_NAMES: &str =
    "access_token|id_token|refresh_token|auth_token|token|password|passwd|pwd|pass|\
secret|client_secret|api_key|apikey|api-key|key|session|session_id|sessionid|sid|jsessionid|phpsessid|auth|\
authorization|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token|otp|email|e-mail|mail|phone|\
mobile|ssn|aadhaar|pan|card|cardnumber";

pub(super) const SECRET_KEYS: &str =
    "password|passwd|passphrase|pwd|secret|client_secret|client-secret|api_key|api-key|\
apikey|x-api-key|access_key|access-key|secret_key|private_key|access_token|auth_token|refresh_token|token|\
session_id|sessionid|otp|pin|authorization";

/// Titles, greetings and phrases after which a person's name follows, in the supported languages (longer forms
/// first, so that they win over their prefixes).
pub(super) const NAME_OPENERS: &[&str] = &[
    "Welcome back",
    "Welcome",
    "signed in as",
    "logged in as",
    "Signed in as",
    "Logged in as",
    "Mrs",
    "Mr",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Prof",
    "Dear",
    "Hi",
    "Hello",
    "Hey",
    "Shri",
    "Smt",
    "Sri",
    "Kumari",
    "Namaste",
    "Namaskar",
    "Herr",
    "Frau",
    "Hallo",
    "Liebe",
    "Lieber",
    "Sehr geehrte",
    "Sehr geehrter",
    "Willkommen",
    "Mme",
    "Mlle",
    "Madame",
    "Monsieur",
    "Bonjour",
    "Bonsoir",
    "Salut",
    "Bienvenue",
    "Cher",
    "Chère",
    "Señora",
    "Señor",
    "Srta",
    "Sra",
    "Sr",
    "Hola",
    "Estimado",
    "Estimada",
    "Querido",
    "Querida",
    "Bienvenido",
    "Bienvenida",
    "Doña",
    "Don",
    "Sig.ra",
    "Sig.na",
    "Signora",
    "Signor",
    "Sig",
    "Ciao",
    "Gentile",
    "Buongiorno",
    "Benvenuto",
    "Benvenuta",
    "Caro",
    "Cara",
    "Dhr",
    "Mevr",
    "mevrouw",
    "heer",
    "Beste",
    "Geachte",
    "Welkom",
    "Olá",
    "Ola",
    "Prezado",
    "Prezada",
    "Bem-vindo",
    "Bem-vinda",
    "Dona",
];

/// Literal keywords of [`Candidate::NameContext`]: one of them is in every match.
const NAME_KEYWORDS: &[&str] = &[
    "name",
    "Name",
    "NAME",
    "Welcome",
    "signed in as",
    "logged in as",
    "Signed in as",
    "Logged in as",
    "Mr",
    "Ms",
    "Miss",
    "Mx",
    "Dr",
    "Prof",
    "Dear",
    "Hi",
    "Hello",
    "Hey",
    "Shri",
    "Smt",
    "Sri",
    "Kumari",
    "Namas",
    "Herr",
    "Frau",
    "Hallo",
    "Liebe",
    "Sehr geehrte",
    "Willkommen",
    "Mme",
    "Mlle",
    "Madame",
    "Monsieur",
    "Bon",
    "Salut",
    "Bienven",
    "Cher",
    "Chère",
    "Señor",
    "Sr",
    "Hola",
    "Estimad",
    "Querid",
    "Doña",
    "Don",
    "Sig",
    "Ciao",
    "Gentile",
    "Buongiorno",
    "Benvenut",
    "Caro",
    "Cara",
    "Dhr",
    "Mevr",
    "mevrouw",
    "heer",
    "Beste",
    "Geachte",
    "Welkom",
    "Olá",
    "Ola",
    "Prezad",
    "Bem-vind",
    "Dona",
];

impl Candidate {
    pub(crate) const ALL: [Candidate; 17] = [
        Candidate::Url,
        Candidate::Jwt,
        Candidate::UrlUserinfo,
        Candidate::UrlParam,
        Candidate::KnownSecret,
        Candidate::SecretKv,
        Candidate::Bearer,
        Candidate::EmailUpi,
        Candidate::Gstin,
        Candidate::Iban,
        Candidate::Pan,
        Candidate::Ifsc,
        Candidate::Mac,
        Candidate::Ipv6,
        Candidate::NameContext,
        Candidate::Street,
        Candidate::IdContext,
    ];

    /// The pattern, in ASCII classes only (no Unicode tables, so the lazy DFA never gives up).
    pub(crate) fn regex(self) -> String {
        match self {
            // An absolute URL (RFC 3986 characters); its parts are decoded and scanned one by one.
            Candidate::Url => r"(?i-u:https?|wss?|ftps?|sftp|file)://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+".into(),
            Candidate::Jwt => r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*".into(),
            Candidate::UrlUserinfo => {
                r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9._~%!$&'()*+,;=-]+:[A-Za-z0-9._~%!$&'()*+,;=-]+@".into()
            }
            Candidate::UrlParam => format!(r"[?&#;](?i-u:{URL_PARAM_NAMES})=[A-Za-z0-9._~%+!$'()*,:@/=-]+"),
            Candidate::KnownSecret => concat!(
                r"AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}",
                r"|xox[abprs]-[A-Za-z0-9-]{10,}|[sr]k_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35}"
            )
            .into(),
            Candidate::SecretKv => {
                format!(r#"(?i-u:{SECRET_KEYS})["']?[ \t]{{0,3}}[:=][ \t]{{0,3}}["']?[A-Za-z0-9_~+/=.!@#$%^*-]{{4,}}"#)
            }
            Candidate::Bearer => r"(?:bearer|Bearer|BEARER)[ \t]+[A-Za-z0-9._~+/=-]{8,}".into(),
            Candidate::EmailUpi => r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*".into(),
            Candidate::Gstin => r"[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][0-9A-Z]Z[0-9A-Z]".into(),
            Candidate::Iban => r"[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}".into(),
            // In capitals, or all in lower case (typed so) with PAN words near it.
            Candidate::Pan => r"[A-Z]{3}[ABCFGHJLPT][A-Z][0-9]{4}[A-Z]|[a-z]{3}[abcfghjlpt][a-z][0-9]{4}[a-z]".into(),
            Candidate::Ifsc => r"[A-Z]{4}0[A-Z0-9]{6}".into(),
            Candidate::Mac => {
                r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}".into()
            }
            Candidate::Ipv6 => {
                r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[0-9A-Fa-f]{1,4})?".into()
            }
            // Street addresses with a house number, in the orders the languages use, and an optional postal code
            // and town after them: "221B Baker Street", "12 MG Road", "Hauptstraße 5, 10115 Berlin",
            // "Kerkstraat 12", "12 rue de la Paix", "Calle Mayor 3", "Via Roma 10", "Rua Augusta 45".
            Candidate::Street => concat!(
                r"(?:(?-u:\b)[0-9]{1,5}[A-Za-z]?,?(?:[ ][A-Z][A-Za-z]+){1,3}[ ]",
                r"(?:Street|St\.|Road|Rd\.|Avenue|Lane|Drive|Boulevard|Marg|Nagar|Colony|Layout)(?-u:\b)",
                r"|(?-u:\b)[A-Z][a-z]*(?:straße|strasse|str\.|weg|platz|allee|gasse|damm|straat|laan|gracht|plein|steeg)",
                r"[ ]?[0-9]{1,4}[a-z]?(?-u:\b)",
                r"|(?-u:\b)(?:Calle|Avenida|Rue|Avenue|Boulevard|Via|Viale|Piazza|Corso|Rua|Travessa|Plaza|Paseo|Carrer)[ ]",
                r"(?:(?:de|del|la|las|los|da|do|dos|das|di|della|des|du|le|les)[ ])*[A-Z][a-z]+(?:[ ][A-Z][a-z]+){0,2},?[ ][0-9]{1,4}(?-u:\b)",
                r"|(?-u:\b)[0-9]{1,4},?[ ](?:rue|avenue|boulevard|place|chemin|impasse|quai|calle|avenida|rua)[ ]",
                r"(?:(?:de|du|des|la|le|les|del|da|do)[ ])*[A-Za-z][a-z]+(?:[ ][A-Za-z][a-z]+){0,3})",
                r"(?:,?[ ][0-9]{4,6}[ ][A-Z][a-z]+)?"
            )
            .into(),
            // An identity document's number after the document's name: "Passport no. X1234567", "Ausweis-Nr.:
            // T22000129", "DNI 12345678Z", "national insurance number QQ123456C": a value with four digits or more. No
            // counted repetition of a broad class here: in the combined regex those multiply the lazy DFA's states.
            Candidate::IdContext => concat!(
                r"(?i-u:passport|reisepass|personalausweis|ausweis|pasaporte|passeport|passaporto|paspoort|passaporte",
                r"|national[ ]id|identity[ ]card|id[ ]card|carte[ ]d'identit|carta[ ]d'identit|documento[ ]de[ ]identidad",
                r"|dni|nif|cni|bsn|cpf|codice[ ]fiscale|driving[ ]licen[cs]e|driver'?s?'?[ ]licen[cs]e|f(?:u|ue)hrerschein",
                r"|permis[ ]de[ ]conduire|voter[ ]id|tax[ ]id|steuer-?id|national[ ]insurance|emirates[ ]id|nric)",
                r"(?:'?s|es)?(?:[ -]?(?i-u:nummer|numero|number|num|nr|no|n)\.?)?(?:[ ](?i-u:is))?[ \t]*[:#=]?[ \t]*",
                r"[A-Za-z0-9][A-Za-z0-9-]+"
            )
            .into(),
            Candidate::NameContext => {
                let openers: Vec<String> = NAME_OPENERS.iter().map(|o| o.replace('.', r"\.")).collect();
                format!(
                    r"(?:(?-u:\b)(?:name|Name|NAME)(?:[ \t]+is)?[ \t]*[:=-]?[ \t]*|(?-u:\b)(?:{})\.?,?[ \t]+)[A-ZÀ-ÖØ-Þ](?:[a-z]|[à-öø-ÿ][a-z])",
                    openers.join("|")
                )
            }
        }
    }

    /// Entities this candidate can produce.
    pub(crate) fn entities(self) -> u32 {
        use Entity as E;
        match self {
            // Whatever a URL's parts may hold.
            Candidate::Url => u32::MAX >> 2,
            Candidate::Jwt => E::Jwt.bit(),
            Candidate::UrlUserinfo => E::UrlCredential.bit(),
            Candidate::UrlParam => {
                E::UrlCredential.bit()
                    | E::Email.bit()
                    | E::Phone.bit()
                    | E::Ssn.bit()
                    | E::Aadhaar.bit()
                    | E::Pan.bit()
                    | E::Card.bit()
            }
            Candidate::KnownSecret | Candidate::SecretKv | Candidate::Bearer => E::Secret.bit(),
            Candidate::EmailUpi => E::Email.bit() | E::Upi.bit(),
            Candidate::Gstin => E::Gstin.bit(),
            Candidate::Iban => E::Iban.bit(),
            Candidate::Pan => E::Pan.bit(),
            Candidate::Ifsc => E::Ifsc.bit(),
            Candidate::Mac => E::Mac.bit(),
            Candidate::Ipv6 => E::Ip.bit(),
            Candidate::NameContext => E::Name.bit(),
            Candidate::Street => E::Address.bit(),
            Candidate::IdContext => E::IdNumber.bit(),
        }
    }

    /// Literal keywords (case-sensitive) one of which every match contains; empty when there is no such set.
    pub(crate) fn keywords(self) -> &'static [&'static str] {
        match self {
            Candidate::NameContext => NAME_KEYWORDS,
            Candidate::Street => &[
                "Street",
                "St.",
                "Road",
                "Rd.",
                "Avenue",
                "Lane",
                "Drive",
                "Boulevard",
                "Marg",
                "Nagar",
                "Colony",
                "Layout",
                "straße",
                "strasse",
                "str.",
                "weg",
                "platz",
                "allee",
                "gasse",
                "damm",
                "straat",
                "laan",
                "gracht",
                "plein",
                "steeg",
                "Calle",
                "Avenida",
                "Rue",
                "Via",
                "Viale",
                "Piazza",
                "Corso",
                "Rua",
                "Travessa",
                "Plaza",
                "Paseo",
                "Carrer",
                "rue",
                "avenue",
                "boulevard",
                "place",
                "chemin",
                "impasse",
                "quai",
                "calle",
                "avenida",
                "rua",
            ],
            Candidate::Bearer => &["bearer", "Bearer", "BEARER"],
            Candidate::KnownSecret => &[
                "AKIA",
                "ghp_",
                "gho_",
                "ghu_",
                "ghs_",
                "ghr_",
                "github_pat_",
                "xoxa-",
                "xoxb-",
                "xoxp-",
                "xoxr-",
                "xoxs-",
                "k_live_",
                "AIza",
            ],
            _ => &[],
        }
    }

    /// Whether every match has at least four digits (an IBAN may have only its two check digits).
    pub(crate) fn needs_digits(self) -> bool {
        matches!(self, Candidate::Gstin | Candidate::Pan | Candidate::IdContext)
    }

    /// Whether a string with byte-class mask `m` can contain this candidate.
    pub(crate) fn possible(self, m: u8) -> bool {
        use class::*;
        let all = |bits: u8| m & bits == bits;
        let any = |bits: u8| m & bits != 0;
        match self {
            Candidate::Url => all(COLON) && any(UPPER | LOWER),
            Candidate::Jwt => all(DOT | UPPER | LOWER),
            Candidate::UrlUserinfo => all(COLON | AT),
            Candidate::UrlParam => any(EQ),
            Candidate::KnownSecret => any(UPPER | LOWER),
            Candidate::Bearer => any(UPPER | LOWER),
            Candidate::SecretKv => any(COLON | EQ),
            Candidate::EmailUpi => any(AT),
            Candidate::Gstin | Candidate::Iban | Candidate::Ifsc => all(DIGIT | UPPER),
            Candidate::Pan => all(DIGIT) && any(UPPER | LOWER),
            // Hex pairs may all be letters ("aa-bb-cc-dd-ee-ff"), so no digit is needed.
            Candidate::Mac => any(COLON | DASH | DOT),
            Candidate::Ipv6 => any(COLON),
            // The capital may be a Latin-1 letter (`name: Élodie`); the match always has an ASCII lowercase.
            Candidate::NameContext => any(LOWER),
            Candidate::Street => all(DIGIT | LOWER),
            Candidate::IdContext => all(DIGIT) && any(UPPER | LOWER),
        }
    }
}
