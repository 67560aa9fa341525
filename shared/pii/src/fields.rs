//! Field names: which keys make a whole value an entity (`password`, `email`, `cardNumber`, …), which keys are
//! never free text (ids, timestamps, coordinates), and which form-field names or types mark an input as
//! sensitive. Keys are compared normalized: ASCII lowercase without `_`, `-`, `.` and spaces.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aho_corasick::AhoCorasick;

use super::{Action, Entity};

/// FNV-1a: field keys are short and not attacker-chosen in bulk (one lookup per key of a batch), so a simple
/// fast hash beats SipHash here.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// How one string value is handled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Treat {
    /// Left as it is, not scanned.
    Skip,
    /// Scanned as free text; detections take `action` if set, else their entity's action.
    Scan { action: Option<Action> },
    /// The whole value is `entity`, if `cond` holds.
    Whole { entity: Entity, action: Option<Action>, cond: Cond },
}

impl Treat {
    pub(crate) const SCAN: Treat = Treat::Scan { action: None };

    pub(crate) fn whole(entity: Entity) -> Treat {
        Treat::Whole { entity, action: None, cond: Cond::Always }
    }
}

/// Condition on the value for a whole-value field rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cond {
    Always,
    /// 3–8 digits (a PIN, not a postal PIN code or a pin name).
    ShortDigits,
    /// Not itself a field label (`{"name": "email", "value": …}` names a field, not a person).
    NotLabel,
}

use Entity as E;

/// Built-in field rules: normalized key, entity, condition.
const BUILTIN_FIELDS: &[(&str, Entity, Cond)] = &[
    ("password", E::Secret, Cond::Always),
    ("passwd", E::Secret, Cond::Always),
    ("pwd", E::Secret, Cond::Always),
    ("pass", E::Secret, Cond::Always),
    ("passphrase", E::Secret, Cond::Always),
    ("passcode", E::Secret, Cond::Always),
    ("newpassword", E::Secret, Cond::Always),
    ("oldpassword", E::Secret, Cond::Always),
    ("currentpassword", E::Secret, Cond::Always),
    ("confirmpassword", E::Secret, Cond::Always),
    ("secret", E::Secret, Cond::Always),
    ("clientsecret", E::Secret, Cond::Always),
    ("apisecret", E::Secret, Cond::Always),
    ("token", E::Secret, Cond::Always),
    ("accesstoken", E::Secret, Cond::Always),
    ("refreshtoken", E::Secret, Cond::Always),
    ("idtoken", E::Secret, Cond::Always),
    ("authtoken", E::Secret, Cond::Always),
    ("apikey", E::Secret, Cond::Always),
    ("xapikey", E::Secret, Cond::Always),
    ("privatekey", E::Secret, Cond::Always),
    ("authorization", E::Secret, Cond::Always),
    ("cookie", E::Secret, Cond::Always),
    ("setcookie", E::Secret, Cond::Always),
    ("otp", E::Secret, Cond::Always),
    ("onetimepassword", E::Secret, Cond::Always),
    ("onetimecode", E::Secret, Cond::Always),
    ("cvv", E::Secret, Cond::Always),
    ("cvv2", E::Secret, Cond::Always),
    ("cvc", E::Secret, Cond::Always),
    ("cvc2", E::Secret, Cond::Always),
    ("csc", E::Secret, Cond::Always),
    ("cccsc", E::Secret, Cond::Always),
    ("securitycode", E::Secret, Cond::Always),
    ("cardcvv", E::Secret, Cond::Always),
    ("mpin", E::Secret, Cond::Always),
    ("upipin", E::Secret, Cond::Always),
    ("atmpin", E::Secret, Cond::Always),
    ("pin", E::Secret, Cond::ShortDigits),
    ("card", E::Card, Cond::Always),
    ("cardnumber", E::Card, Cond::Always),
    ("cardno", E::Card, Cond::Always),
    ("ccnumber", E::Card, Cond::Always),
    ("ccnum", E::Card, Cond::Always),
    ("creditcard", E::Card, Cond::Always),
    ("creditcardnumber", E::Card, Cond::Always),
    ("debitcard", E::Card, Cond::Always),
    ("debitcardnumber", E::Card, Cond::Always),
    ("iban", E::Iban, Cond::Always),
    ("account", E::Account, Cond::Always),
    ("accountnumber", E::Account, Cond::Always),
    ("accountno", E::Account, Cond::Always),
    ("acctno", E::Account, Cond::Always),
    ("bankaccount", E::Account, Cond::Always),
    ("bankaccountnumber", E::Account, Cond::Always),
    ("ssn", E::Ssn, Cond::Always),
    ("socialsecuritynumber", E::Ssn, Cond::Always),
    ("aadhaar", E::Aadhaar, Cond::Always),
    ("aadhar", E::Aadhaar, Cond::Always),
    ("aadhaarnumber", E::Aadhaar, Cond::Always),
    ("aadhaarno", E::Aadhaar, Cond::Always),
    ("aadharnumber", E::Aadhaar, Cond::Always),
    ("pan", E::Pan, Cond::Always),
    ("pannumber", E::Pan, Cond::Always),
    ("panno", E::Pan, Cond::Always),
    ("pancard", E::Pan, Cond::Always),
    ("ifsc", E::Ifsc, Cond::Always),
    ("ifsccode", E::Ifsc, Cond::Always),
    ("upi", E::Upi, Cond::Always),
    ("upiid", E::Upi, Cond::Always),
    ("vpa", E::Upi, Cond::Always),
    ("gstin", E::Gstin, Cond::Always),
    ("gst", E::Gstin, Cond::Always),
    ("gstno", E::Gstin, Cond::Always),
    ("gstnumber", E::Gstin, Cond::Always),
    ("dob", E::Dob, Cond::Always),
    ("dateofbirth", E::Dob, Cond::Always),
    ("birthdate", E::Dob, Cond::Always),
    ("birthday", E::Dob, Cond::Always),
    ("bday", E::Dob, Cond::Always),
    ("phone", E::Phone, Cond::Always),
    ("phonenumber", E::Phone, Cond::Always),
    ("phoneno", E::Phone, Cond::Always),
    ("mobile", E::Phone, Cond::Always),
    ("mobilenumber", E::Phone, Cond::Always),
    ("mobileno", E::Phone, Cond::Always),
    ("tel", E::Phone, Cond::Always),
    ("telephone", E::Phone, Cond::Always),
    ("cell", E::Phone, Cond::Always),
    ("cellphone", E::Phone, Cond::Always),
    ("contactnumber", E::Phone, Cond::Always),
    ("whatsapp", E::Phone, Cond::Always),
    ("msisdn", E::Phone, Cond::Always),
    ("email", E::Email, Cond::Always),
    ("emailaddress", E::Email, Cond::Always),
    ("mail", E::Email, Cond::Always),
    ("emailid", E::Email, Cond::Always),
    ("useremail", E::Email, Cond::Always),
    ("name", E::Name, Cond::NotLabel),
    ("firstname", E::Name, Cond::Always),
    ("lastname", E::Name, Cond::Always),
    ("fullname", E::Name, Cond::Always),
    ("middlename", E::Name, Cond::Always),
    ("surname", E::Name, Cond::Always),
    ("givenname", E::Name, Cond::Always),
    ("familyname", E::Name, Cond::Always),
    ("cardholder", E::Name, Cond::Always),
    ("cardholdername", E::Name, Cond::Always),
    ("nameoncard", E::Name, Cond::Always),
    ("accountholder", E::Name, Cond::Always),
    ("accountholdername", E::Name, Cond::Always),
    ("holdername", E::Name, Cond::Always),
    ("nominee", E::Name, Cond::Always),
    ("fathername", E::Name, Cond::Always),
    ("mothername", E::Name, Cond::Always),
    ("spousename", E::Name, Cond::Always),
    ("customername", E::Name, Cond::Always),
    ("address", E::Address, Cond::Always),
    ("street", E::Address, Cond::Always),
    ("streetaddress", E::Address, Cond::Always),
    ("addressline", E::Address, Cond::Always),
    ("addressline1", E::Address, Cond::Always),
    ("addressline2", E::Address, Cond::Always),
    ("address1", E::Address, Cond::Always),
    ("address2", E::Address, Cond::Always),
    ("billingaddress", E::Address, Cond::Always),
    ("shippingaddress", E::Address, Cond::Always),
    ("zip", E::PostalCode, Cond::Always),
    ("zipcode", E::PostalCode, Cond::Always),
    ("postcode", E::PostalCode, Cond::Always),
    ("postalcode", E::PostalCode, Cond::Always),
    ("pincode", E::PostalCode, Cond::Always),
    ("ipaddress", E::Ip, Cond::Always),
    ("clientip", E::Ip, Cond::Always),
    ("remoteip", E::Ip, Cond::Always),
    ("remoteaddr", E::Ip, Cond::Always),
    ("xforwardedfor", E::Ip, Cond::Always),
    ("macaddress", E::Mac, Cond::Always),
    // German, French, Spanish, Italian, Dutch, Portuguese and transliterated Hindi forms, normalized (accents
    // folded: `téléphone` → `telephone`, `straße` → `strasse`).
    ("passwort", E::Secret, Cond::Always),
    ("kennwort", E::Secret, Cond::Always),
    ("motdepasse", E::Secret, Cond::Always),
    ("contrasena", E::Secret, Cond::Always),
    ("contrasenya", E::Secret, Cond::Always),
    ("wachtwoord", E::Secret, Cond::Always),
    ("senha", E::Secret, Cond::Always),
    ("geheimzahl", E::Secret, Cond::Always),
    ("kartennummer", E::Card, Cond::Always),
    ("kreditkarte", E::Card, Cond::Always),
    ("kreditkartennummer", E::Card, Cond::Always),
    ("debitkarte", E::Card, Cond::Always),
    ("numerodecarte", E::Card, Cond::Always),
    ("cartebancaire", E::Card, Cond::Always),
    ("numerocarte", E::Card, Cond::Always),
    ("numerotarjeta", E::Card, Cond::Always),
    ("numerodetarjeta", E::Card, Cond::Always),
    ("tarjeta", E::Card, Cond::Always),
    ("tarjetadecredito", E::Card, Cond::Always),
    ("numerodicarta", E::Card, Cond::Always),
    ("cartadicredito", E::Card, Cond::Always),
    ("kaartnummer", E::Card, Cond::Always),
    ("creditcardnummer", E::Card, Cond::Always),
    ("numerodocartao", E::Card, Cond::Always),
    ("cartao", E::Card, Cond::Always),
    ("cartaodecredito", E::Card, Cond::Always),
    ("kontonummer", E::Account, Cond::Always),
    ("konto", E::Account, Cond::Always),
    ("numerodecompte", E::Account, Cond::Always),
    ("compte", E::Account, Cond::Always),
    ("numerodecuenta", E::Account, Cond::Always),
    ("cuenta", E::Account, Cond::Always),
    ("numerodeconto", E::Account, Cond::Always),
    ("numerodiconto", E::Account, Cond::Always),
    ("conto", E::Account, Cond::Always),
    ("rekeningnummer", E::Account, Cond::Always),
    ("rekening", E::Account, Cond::Always),
    ("contabancaria", E::Account, Cond::Always),
    ("numerodaconta", E::Account, Cond::Always),
    ("socialsecurityno", E::Ssn, Cond::Always),
    ("socialsecurity", E::Ssn, Cond::Always),
    ("ssnnumber", E::Ssn, Cond::Always),
    ("geburtsdatum", E::Dob, Cond::Always),
    ("geburtstag", E::Dob, Cond::Always),
    ("datedenaissance", E::Dob, Cond::Always),
    ("naissance", E::Dob, Cond::Always),
    ("fechanacimiento", E::Dob, Cond::Always),
    ("fechadenacimiento", E::Dob, Cond::Always),
    ("nacimiento", E::Dob, Cond::Always),
    ("datadinascita", E::Dob, Cond::Always),
    ("geboortedatum", E::Dob, Cond::Always),
    ("datadenascimento", E::Dob, Cond::Always),
    ("janmatithi", E::Dob, Cond::Always),
    ("janamtithi", E::Dob, Cond::Always),
    ("telefon", E::Phone, Cond::Always),
    ("telefonnummer", E::Phone, Cond::Always),
    ("handy", E::Phone, Cond::Always),
    ("handynummer", E::Phone, Cond::Always),
    ("mobil", E::Phone, Cond::Always),
    ("mobilnummer", E::Phone, Cond::Always),
    ("mobiltelefon", E::Phone, Cond::Always),
    ("rufnummer", E::Phone, Cond::Always),
    ("numerodetelephone", E::Phone, Cond::Always),
    ("telephoneportable", E::Phone, Cond::Always),
    ("portable", E::Phone, Cond::Always),
    ("telefono", E::Phone, Cond::Always),
    ("numerodetelefono", E::Phone, Cond::Always),
    ("movil", E::Phone, Cond::Always),
    ("celular", E::Phone, Cond::Always),
    ("cellulare", E::Phone, Cond::Always),
    ("telefoonnummer", E::Phone, Cond::Always),
    ("mobiel", E::Phone, Cond::Always),
    ("mobielnummer", E::Phone, Cond::Always),
    ("telefone", E::Phone, Cond::Always),
    ("telemovel", E::Phone, Cond::Always),
    ("mobno", E::Phone, Cond::Always),
    ("phonenumber1", E::Phone, Cond::Always),
    ("sampark", E::Phone, Cond::Always),
    ("emailadresse", E::Email, Cond::Always),
    ("mailadresse", E::Email, Cond::Always),
    ("correo", E::Email, Cond::Always),
    ("correoelectronico", E::Email, Cond::Always),
    ("courriel", E::Email, Cond::Always),
    ("adressemail", E::Email, Cond::Always),
    ("adresseemail", E::Email, Cond::Always),
    ("postaelettronica", E::Email, Cond::Always),
    ("emailadres", E::Email, Cond::Always),
    ("vorname", E::Name, Cond::Always),
    ("nachname", E::Name, Cond::Always),
    ("familienname", E::Name, Cond::Always),
    ("nom", E::Name, Cond::Always),
    ("prenom", E::Name, Cond::Always),
    ("nomdefamille", E::Name, Cond::Always),
    ("nombre", E::Name, Cond::Always),
    ("apellido", E::Name, Cond::Always),
    ("apellidos", E::Name, Cond::Always),
    ("nombrecompleto", E::Name, Cond::Always),
    ("nome", E::Name, Cond::Always),
    ("cognome", E::Name, Cond::Always),
    ("nomecompleto", E::Name, Cond::Always),
    ("naam", E::Name, Cond::Always),
    ("voornaam", E::Name, Cond::Always),
    ("achternaam", E::Name, Cond::Always),
    ("sobrenome", E::Name, Cond::Always),
    ("titular", E::Name, Cond::Always),
    ("karteninhaber", E::Name, Cond::Always),
    ("titulaire", E::Name, Cond::Always),
    ("pitakanaam", E::Name, Cond::Always),
    ("adresse", E::Address, Cond::Always),
    ("anschrift", E::Address, Cond::Always),
    ("strasse", E::Address, Cond::Always),
    ("hausnummer", E::Address, Cond::Always),
    ("rue", E::Address, Cond::Always),
    ("calle", E::Address, Cond::Always),
    ("direccion", E::Address, Cond::Always),
    ("domicilio", E::Address, Cond::Always),
    ("indirizzo", E::Address, Cond::Always),
    ("adres", E::Address, Cond::Always),
    ("straat", E::Address, Cond::Always),
    ("endereco", E::Address, Cond::Always),
    ("rua", E::Address, Cond::Always),
    ("morada", E::Address, Cond::Always),
    ("pata", E::Address, Cond::Always),
    ("plz", E::PostalCode, Cond::Always),
    ("postleitzahl", E::PostalCode, Cond::Always),
    ("codepostal", E::PostalCode, Cond::Always),
    ("codigopostal", E::PostalCode, Cond::Always),
    ("cep", E::PostalCode, Cond::Always),
    ("cap", E::PostalCode, Cond::Always),
    // Identity documents; a bank identifier (BIC/SWIFT) with the account it belongs to.
    ("passport", E::IdNumber, Cond::Always),
    ("passportnumber", E::IdNumber, Cond::Always),
    ("passportno", E::IdNumber, Cond::Always),
    ("passnummer", E::IdNumber, Cond::Always),
    ("reisepass", E::IdNumber, Cond::Always),
    ("reisepassnummer", E::IdNumber, Cond::Always),
    ("ausweis", E::IdNumber, Cond::Always),
    ("ausweisnummer", E::IdNumber, Cond::Always),
    ("personalausweis", E::IdNumber, Cond::Always),
    ("personalausweisnummer", E::IdNumber, Cond::Always),
    ("idcard", E::IdNumber, Cond::Always),
    ("idcardnumber", E::IdNumber, Cond::Always),
    ("idcardno", E::IdNumber, Cond::Always),
    ("nationalid", E::IdNumber, Cond::Always),
    ("nationalidnumber", E::IdNumber, Cond::Always),
    ("nationalidentitynumber", E::IdNumber, Cond::Always),
    ("identitynumber", E::IdNumber, Cond::Always),
    ("identitycard", E::IdNumber, Cond::Always),
    ("identitycardnumber", E::IdNumber, Cond::Always),
    ("iddocument", E::IdNumber, Cond::Always),
    ("iddocumentnumber", E::IdNumber, Cond::Always),
    ("identitydocument", E::IdNumber, Cond::Always),
    ("documentoidentidad", E::IdNumber, Cond::Always),
    ("pasaporte", E::IdNumber, Cond::Always),
    ("numeropasaporte", E::IdNumber, Cond::Always),
    ("numerodepasaporte", E::IdNumber, Cond::Always),
    ("dni", E::IdNumber, Cond::Always),
    ("nie", E::IdNumber, Cond::Always),
    ("nif", E::IdNumber, Cond::Always),
    ("cni", E::IdNumber, Cond::Always),
    ("passeport", E::IdNumber, Cond::Always),
    ("numeropasseport", E::IdNumber, Cond::Always),
    ("numerodepasseport", E::IdNumber, Cond::Always),
    ("carteidentite", E::IdNumber, Cond::Always),
    ("cartedidentite", E::IdNumber, Cond::Always),
    ("numerocni", E::IdNumber, Cond::Always),
    ("passaporto", E::IdNumber, Cond::Always),
    ("numeropassaporto", E::IdNumber, Cond::Always),
    ("cartaidentita", E::IdNumber, Cond::Always),
    ("cartadidentita", E::IdNumber, Cond::Always),
    ("codicefiscale", E::IdNumber, Cond::Always),
    ("paspoort", E::IdNumber, Cond::Always),
    ("paspoortnummer", E::IdNumber, Cond::Always),
    ("bsn", E::IdNumber, Cond::Always),
    ("burgerservicenummer", E::IdNumber, Cond::Always),
    ("identiteitsbewijs", E::IdNumber, Cond::Always),
    ("passaporte", E::IdNumber, Cond::Always),
    ("numeropassaporte", E::IdNumber, Cond::Always),
    ("cpf", E::IdNumber, Cond::Always),
    ("drivinglicence", E::IdNumber, Cond::Always),
    ("drivinglicense", E::IdNumber, Cond::Always),
    ("driverslicense", E::IdNumber, Cond::Always),
    ("driverlicense", E::IdNumber, Cond::Always),
    ("drivinglicencenumber", E::IdNumber, Cond::Always),
    ("driverslicensenumber", E::IdNumber, Cond::Always),
    ("licensenumber", E::IdNumber, Cond::Always),
    ("licencenumber", E::IdNumber, Cond::Always),
    ("dlnumber", E::IdNumber, Cond::Always),
    ("dlno", E::IdNumber, Cond::Always),
    ("fuhrerschein", E::IdNumber, Cond::Always),
    ("fuhrerscheinnummer", E::IdNumber, Cond::Always),
    ("fuehrerschein", E::IdNumber, Cond::Always),
    ("permisdeconduire", E::IdNumber, Cond::Always),
    ("carnetdeconducir", E::IdNumber, Cond::Always),
    ("voterid", E::IdNumber, Cond::Always),
    ("epicnumber", E::IdNumber, Cond::Always),
    ("steuerid", E::IdNumber, Cond::Always),
    ("steueridentifikationsnummer", E::IdNumber, Cond::Always),
    ("taxid", E::IdNumber, Cond::Always),
    ("tin", E::IdNumber, Cond::Always),
    ("nino", E::IdNumber, Cond::Always),
    ("nationalinsurance", E::IdNumber, Cond::Always),
    ("nationalinsurancenumber", E::IdNumber, Cond::Always),
    ("sozialversicherungsnummer", E::IdNumber, Cond::Always),
    ("svnr", E::IdNumber, Cond::Always),
    ("emiratesid", E::IdNumber, Cond::Always),
    ("nric", E::IdNumber, Cond::Always),
    ("bic", E::Account, Cond::Always),
    ("biccode", E::Account, Cond::Always),
    ("swift", E::Account, Cond::Always),
    ("swiftcode", E::Account, Cond::Always),
    ("swiftbic", E::Account, Cond::Always),
    ("bicswift", E::Account, Cond::Always),
];

/// Normalized keys whose values are ids, times, coordinates, sizes or counters: never free text.
const SKIP_KEYS: &[&str] = &[
    "id",
    "ids",
    "uuid",
    "guid",
    "ts",
    "timestamp",
    "time",
    "sentat",
    "seq",
    "x",
    "y",
    "z",
    "lat",
    "lng",
    "lon",
    "latitude",
    "longitude",
    "width",
    "height",
    "w",
    "h",
    "count",
    "index",
    "idx",
    "offset",
    "timeoffset",
    "top",
    "left",
    "right",
    "bottom",
    "duration",
    "delay",
    "nodeid",
    "parentid",
    "nextid",
    "previd",
    "rootid",
    "sessionid",
    "visitorid",
    "useragent",
    "ua",
    "screen",
    "viewport",
    "sdk",
    "version",
    "hash",
    "checksum",
    "sha",
    "sha256",
    "md5",
    "etag",
    "scrollx",
    "scrolly",
    "pagex",
    "pagey",
    "clientx",
    "clienty",
    "type",
];

/// Substrings of a form field's name, id or autocomplete token that mark its value as an entity.
const HINT_PARTS: &[(&str, Entity)] = &[
    ("password", E::Secret),
    ("passwd", E::Secret),
    ("passcode", E::Secret),
    ("cvv", E::Secret),
    ("cvc", E::Secret),
    // HTML autocomplete `cc-csc` (the card's security code) and `cc-name` (the cardholder's name).
    ("cccsc", E::Secret),
    ("ccname", E::Name),
    ("onetimecode", E::Secret),
    ("token", E::Secret),
    ("secret", E::Secret),
    ("apikey", E::Secret),
    ("email", E::Email),
    ("phone", E::Phone),
    ("mobile", E::Phone),
    ("cardnumber", E::Card),
    ("ccnumber", E::Card),
    ("creditcard", E::Card),
    ("aadhaar", E::Aadhaar),
    ("aadhar", E::Aadhaar),
    ("iban", E::Iban),
    ("birth", E::Dob),
    ("postalcode", E::PostalCode),
    ("zipcode", E::PostalCode),
    ("pincode", E::PostalCode),
    ("address", E::Address),
    ("street", E::Address),
    ("firstname", E::Name),
    ("lastname", E::Name),
    ("fullname", E::Name),
    ("givenname", E::Name),
    ("familyname", E::Name),
    ("surname", E::Name),
    ("pannumber", E::Pan),
    ("accountnumber", E::Account),
    ("ifsc", E::Ifsc),
    ("upiid", E::Upi),
    ("gstin", E::Gstin),
    ("telephone", E::Phone),
    ("passwort", E::Secret),
    ("kennwort", E::Secret),
    ("motdepasse", E::Secret),
    ("contrasena", E::Secret),
    ("senha", E::Secret),
    ("wachtwoord", E::Secret),
    ("telefon", E::Phone),
    ("handy", E::Phone),
    ("mobilnummer", E::Phone),
    ("mobiltelefon", E::Phone),
    ("rufnummer", E::Phone),
    ("portable", E::Phone),
    ("celular", E::Phone),
    ("cellulare", E::Phone),
    ("mobiel", E::Phone),
    ("telemovel", E::Phone),
    ("kartennummer", E::Card),
    ("kreditkarte", E::Card),
    ("numerodecarte", E::Card),
    ("tarjeta", E::Card),
    ("kaartnummer", E::Card),
    ("cartao", E::Card),
    ("vorname", E::Name),
    ("nachname", E::Name),
    ("familienname", E::Name),
    ("prenom", E::Name),
    ("apellido", E::Name),
    ("cognome", E::Name),
    ("voornaam", E::Name),
    ("achternaam", E::Name),
    ("sobrenome", E::Name),
    ("geburt", E::Dob),
    ("naissance", E::Dob),
    ("nacimiento", E::Dob),
    ("nascita", E::Dob),
    ("geboorte", E::Dob),
    ("nascimento", E::Dob),
    ("adresse", E::Address),
    ("anschrift", E::Address),
    ("strasse", E::Address),
    ("direccion", E::Address),
    ("indirizzo", E::Address),
    ("straat", E::Address),
    ("endereco", E::Address),
    ("postleitzahl", E::PostalCode),
    ("codepostal", E::PostalCode),
    ("codigopostal", E::PostalCode),
    ("kontonummer", E::Account),
    ("numerodecompte", E::Account),
    ("numerodecuenta", E::Account),
    ("rekeningnummer", E::Account),
    ("correo", E::Email),
    ("courriel", E::Email),
    ("passport", E::IdNumber),
    ("reisepass", E::IdNumber),
    ("ausweis", E::IdNumber),
    ("pasaporte", E::IdNumber),
    ("passeport", E::IdNumber),
    ("passaporto", E::IdNumber),
    ("paspoort", E::IdNumber),
    ("passaporte", E::IdNumber),
    ("nationalid", E::IdNumber),
    ("idcard", E::IdNumber),
    ("drivinglicen", E::IdNumber),
    ("driverslicen", E::IdNumber),
    ("fuhrerschein", E::IdNumber),
];

/// Longest normalized key considered.
pub(crate) const MAX_KEY: usize = 64;

/// Lowercases `key` and drops `_`, `-`, `.` and spaces into `buf`; `None` if the result would not fit.
pub(crate) fn normalize<'b>(key: &[u8], buf: &'b mut [u8; MAX_KEY]) -> Option<&'b [u8]> {
    let mut n = 0;
    let mut i = 0;
    while i < key.len() {
        let b = key[i];
        i += 1;
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            continue;
        }
        // Latin-1 letters in UTF-8 (`0xC3 xx`) fold to their ASCII base: `é` → `e`, `ß` → `ss`.
        let folded: &[u8] = if b == 0xC3 && i < key.len() {
            i += 1;
            fold_latin1(key[i - 1])
        } else {
            std::slice::from_ref(&b)
        };
        for &f in folded {
            if n == MAX_KEY {
                return None;
            }
            buf[n] = f.to_ascii_lowercase();
            n += 1;
        }
    }
    Some(&buf[..n])
}

/// The ASCII base of the Latin-1 letter whose UTF-8 form is `0xC3 second` (the byte itself if none).
pub(crate) fn fold_latin1(second: u8) -> &'static [u8] {
    // Lowercase letters are 0xA0–0xBF; uppercase ones 0x80–0x9F share the same order.
    const BASE: &[u8; 32] = b"aaaaaaaceeeeiiiidnooooo/ouuuuyps";
    match second {
        0x9F => b"ss",
        0xBF => b"y",
        0x80..=0xBE => {
            let at = usize::from((second - 0x80) % 32);
            let letter = &BASE[at..at + 1];
            if letter == b"/" || letter == b"p" {
                b""
            } else {
                letter
            }
        }
        _ => b"",
    }
}

/// Whether a key names an id, time, coordinate or counter by its suffix (`user_id`, `createdAt`); whole
/// names (`id`, `timestamp`, `lat`) are rules of [`Fields`].
pub(crate) fn skip_key(raw: &[u8]) -> bool {
    let snake = [&b"_id"[..], b"-id", b"_ids", b"_at", b"_ts", b"_ms", b"_uuid"];
    if snake.iter().any(|s| raw.len() > s.len() && raw.ends_with(s)) {
        return true;
    }
    // camelCase: userId, orderIds, createdAt.
    let camel = [&b"Id"[..], b"Ids", b"At", b"Uuid"];
    camel.iter().any(|s| raw.len() > s.len() && raw.ends_with(s) && raw[raw.len() - s.len() - 1].is_ascii_lowercase())
}

/// Compiled field rules.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    rules: HashMap<Box<[u8]>, Treat, BuildHasherDefault<Fnv>>,
    /// `HINT_PARTS` as one automaton.
    parts: AhoCorasick,
    /// Built-in entities hints may point to.
    hint_entities: u32,
}

impl Fields {
    /// Built-in rules (if `builtin`) whose entity is in `entities`, overridden by `custom` rules.
    pub(crate) fn new(builtin: bool, entities: u32, custom: impl IntoIterator<Item = (String, Treat)>) -> Fields {
        let mut rules = HashMap::default();
        for key in SKIP_KEYS {
            rules.insert(key.as_bytes().into(), Treat::Skip);
        }
        if builtin {
            for &(key, entity, cond) in BUILTIN_FIELDS {
                if entities & entity.bit() != 0 {
                    rules.insert(key.as_bytes().into(), Treat::Whole { entity, action: None, cond });
                }
            }
        }
        for (key, treat) in custom {
            rules.insert(key.into_bytes().into_boxed_slice(), treat);
        }
        let parts = AhoCorasick::new(HINT_PARTS.iter().map(|(p, _)| p)).expect("built-in hint words compile");
        Fields { rules, parts, hint_entities: entities }
    }

    /// The rule for a normalized key.
    #[inline]
    pub(crate) fn lookup(&self, norm: &[u8]) -> Option<Treat> {
        self.rules.get(norm).copied()
    }

    /// Whether a form field's name, id or autocomplete value (`user[email]`, `cc-number`,
    /// `shipping street-address`) marks its value as an entity; returns the treatment of the value.
    /// What a phrase people read about an input (a placeholder, an ARIA label: "Mobile number", "Numéro de
    /// carte") says it holds: the whole phrase normalized (letters and digits, accents folded), then its last word.
    pub(crate) fn hint_phrase(&self, value: &[u8]) -> Option<Treat> {
        let mut buf = [0u8; MAX_KEY];
        let Some(norm) = normalize(value, &mut buf) else { return self.hint(value) };
        let norm: Vec<u8> = norm.iter().copied().filter(u8::is_ascii_alphanumeric).collect();
        if norm.len() >= 2 {
            if let Some(Treat::Whole { entity, action, .. }) = self.lookup(&norm) {
                return Some(Treat::Whole { entity, action, cond: Cond::Always });
            }
            if let Some(m) = self.parts.find(&norm[..]) {
                let entity = HINT_PARTS[m.pattern().as_usize()].1;
                if self.hint_entities & entity.bit() != 0 {
                    return Some(Treat::whole(entity));
                }
            }
        }
        self.hint(value)
    }

    pub(crate) fn hint(&self, value: &[u8]) -> Option<Treat> {
        let last_word = value.rsplit(|&b| b == b' ').next().unwrap_or(value);
        let segment = last_word.rsplit(|&b| b == b'[').next().unwrap_or(last_word);
        let mut buf = [0u8; MAX_KEY];
        let mut n = 0;
        for &b in segment {
            if b.is_ascii_alphanumeric() {
                if n == MAX_KEY {
                    return None;
                }
                buf[n] = b.to_ascii_lowercase();
                n += 1;
            }
        }
        let norm = &buf[..n];
        if norm.len() < 2 {
            return None;
        }
        if let Some(treat @ Treat::Whole { .. }) = self.lookup(norm) {
            return Some(match treat {
                Treat::Whole { entity, action, .. } => Treat::Whole { entity, action, cond: Cond::Always },
                other => other,
            });
        }
        let entity = HINT_PARTS[self.parts.find(norm)?.pattern().as_usize()].1;
        (self.hint_entities & entity.bit() != 0).then(|| Treat::whole(entity))
    }

    /// Treatment of an input's value by its `type` attribute.
    pub(crate) fn input_type(&self, value: &[u8]) -> Option<Treat> {
        let entity = if value.eq_ignore_ascii_case(b"password") {
            E::Secret
        } else if value.eq_ignore_ascii_case(b"email") {
            E::Email
        } else if value.eq_ignore_ascii_case(b"tel") {
            E::Phone
        } else {
            return None;
        };
        (self.hint_entities & entity.bit() != 0).then(|| Treat::whole(entity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Fields {
        Fields::new(true, u32::MAX, [])
    }

    #[test]
    fn normalizes_keys() {
        let mut buf = [0; MAX_KEY];
        assert_eq!(normalize(b"Card_Number", &mut buf), Some(&b"cardnumber"[..]));
        assert_eq!(normalize(b"e-mail.address", &mut buf), Some(&b"emailaddress"[..]));
        assert_eq!(normalize(&[b'a'; 65], &mut buf), None);
    }

    #[test]
    fn skips_ids_and_times() {
        let fields = all();
        let mut buf = [0; MAX_KEY];
        for key in ["id", "user_id", "orderId", "sent_at", "createdAt", "timeOffset", "lat"] {
            let norm = normalize(key.as_bytes(), &mut buf).unwrap().to_vec();
            assert!(skip_key(key.as_bytes()) || fields.lookup(&norm) == Some(Treat::Skip), "{key}");
        }
        for key in ["paid", "email", "valid", "note"] {
            let norm = normalize(key.as_bytes(), &mut buf).unwrap().to_vec();
            assert!(!skip_key(key.as_bytes()) && fields.lookup(&norm) != Some(Treat::Skip), "{key}");
        }
    }

    #[test]
    fn hints_from_form_field_names() {
        let f = all();
        assert_eq!(f.hint(b"user[email]"), Some(Treat::whole(E::Email)));
        assert_eq!(f.hint(b"cc-number"), Some(Treat::whole(E::Card)));
        assert_eq!(f.hint(b"current-password"), Some(Treat::whole(E::Secret)));
        assert_eq!(f.hint(b"shipping street-address"), Some(Treat::whole(E::Address)));
        assert_eq!(f.hint(b"cc-name"), Some(Treat::whole(E::Name)));
        assert_eq!(f.hint(b"payment-0-cc_name"), Some(Treat::whole(E::Name)));
        assert_eq!(f.hint(b"cc-csc"), Some(Treat::whole(E::Secret)));
        assert_eq!(f.hint(b"bday"), Some(Treat::whole(E::Dob)));
        assert_eq!(f.hint(b"tel"), Some(Treat::whole(E::Phone)));
        assert_eq!(f.hint(b"search"), None);
        assert_eq!(f.hint(b"q"), None);
        assert_eq!(f.input_type(b"password"), Some(Treat::whole(E::Secret)));
    }
}
