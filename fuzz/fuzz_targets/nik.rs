//! NIK parsing and masking over any text: never a panic, and what parses is a
//! well-formed NIK whose masked form hides the birth date.
#![no_main]

use glair_vision::{mask_nik, Date, Nik};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let masked = mask_nik(&text);
    let chars: Vec<char> = text.chars().collect();
    if chars.len() == 16 {
        let expected: String = chars[..6].iter().chain(&['*'; 6]).chain(&chars[12..]).collect();
        assert_eq!(masked, expected, "only the region and the serial are shown");
    } else {
        assert!(masked.chars().all(|c| c == '*') && masked.chars().count() == chars.len().min(16));
    }

    if let Ok(nik) = Nik::parse(&text) {
        assert_eq!(nik.as_str(), text);
        check(&nik);
    }
    if let Ok(nik) = Nik::parse_lenient(&text) {
        assert_eq!(Nik::parse(nik.as_str()).as_ref(), Ok(&nik), "lenient parse yields a strict NIK");
        check(&nik);
    }
});

fn check(nik: &Nik) {
    let s = nik.as_str();
    assert!(s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(nik.masked(), format!("{}******{}", &s[..6], &s[12..]));
    assert_eq!(format!("{nik:?}"), format!("Nik({})", nik.masked()));
    let (day, month, yy) = nik.birth_day_month_year2();
    for century in [1900, 2000] {
        let dob = Date::new(century + i32::from(yy), month, day);
        let born = nik.birth_date(dob);
        if let (Some(dob), Some(born)) = (dob, born) {
            assert_eq!(born, dob, "a real date of birth settles the century");
        }
        assert!(nik.consistency(dob, Some(nik.gender())).is_consistent());
    }
}
