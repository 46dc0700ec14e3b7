//! A deterministic synthetic population: the same seed and size always give the
//! same people, whose NIK prefix, birth date and gender agree with the record.

use std::collections::HashSet;

use glair_vision::{Date, Field, Gender, VerificationRequest};

use crate::record::Record;

/// A registration area: NIK region code and its names.
struct Region {
    code: &'static str,
    province: &'static str,
    city: &'static str,
    district: &'static str,
    subdistrict: &'static str,
}

const REGIONS: &[Region] = &[
    Region {
        code: "317101",
        province: "DKI JAKARTA",
        city: "JAKARTA PUSAT",
        district: "GAMBIR",
        subdistrict: "CIDENG",
    },
    Region {
        code: "317404",
        province: "DKI JAKARTA",
        city: "JAKARTA SELATAN",
        district: "PANCORAN",
        subdistrict: "KALIBATA",
    },
    Region {
        code: "327301",
        province: "JAWA BARAT",
        city: "KOTA BANDUNG",
        district: "SUKASARI",
        subdistrict: "GEGERKALONG",
    },
    Region {
        code: "320101",
        province: "JAWA BARAT",
        city: "KABUPATEN BOGOR",
        district: "CIBINONG",
        subdistrict: "PAKANSARI",
    },
    Region {
        code: "337401",
        province: "JAWA TENGAH",
        city: "KOTA SEMARANG",
        district: "SEMARANG TENGAH",
        subdistrict: "PEKUNDEN",
    },
    Region {
        code: "347102",
        province: "DI YOGYAKARTA",
        city: "KOTA YOGYAKARTA",
        district: "GONDOKUSUMAN",
        subdistrict: "TERBAN",
    },
    Region {
        code: "357805",
        province: "JAWA TIMUR",
        city: "KOTA SURABAYA",
        district: "GUBENG",
        subdistrict: "AIRLANGGA",
    },
    Region {
        code: "367101",
        province: "BANTEN",
        city: "KOTA TANGERANG",
        district: "TANGERANG",
        subdistrict: "SUKASARI",
    },
    Region {
        code: "517101",
        province: "BALI",
        city: "KOTA DENPASAR",
        district: "DENPASAR SELATAN",
        subdistrict: "SANUR",
    },
    Region {
        code: "127101",
        province: "SUMATERA UTARA",
        city: "KOTA MEDAN",
        district: "MEDAN KOTA",
        subdistrict: "PASAR BARU",
    },
    Region {
        code: "737101",
        province: "SULAWESI SELATAN",
        city: "KOTA MAKASSAR",
        district: "UJUNG PANDANG",
        subdistrict: "LOSARI",
    },
    Region {
        code: "647201",
        province: "KALIMANTAN TIMUR",
        city: "KOTA SAMARINDA",
        district: "SAMARINDA ULU",
        subdistrict: "AIR PUTIH",
    },
];

const MALE_NAMES: &[&str] = &[
    "AGUS",
    "BAMBANG",
    "DEDI",
    "EKO",
    "FAJAR",
    "HENDRA",
    "IRFAN",
    "JOKO",
    "KURNIAWAN",
    "MUHAMMAD",
    "RUDI",
    "SLAMET",
    "TEGUH",
    "WAHYU",
    "YUSUF",
    "ADITYA",
    "RIZKY",
    "ANDI",
];
const FEMALE_NAMES: &[&str] = &[
    "AYU", "DEWI", "FITRI", "INDAH", "KARTIKA", "LESTARI", "MAYA", "NUR", "PUTRI", "RATNA", "SARI", "TITIN",
    "WULAN", "YULIA", "ANISA", "RINI", "SRI", "NINGSIH",
];
const FAMILY_NAMES: &[&str] = &[
    "SANTOSO", "WIJAYA", "PRATAMA", "SAPUTRA", "HIDAYAT", "NUGROHO", "SETIAWAN", "KUSUMA", "HARAHAP",
    "SIREGAR", "LUBIS", "RAHMAN", "PURNOMO", "SUSANTO", "GUNAWAN", "HALIM",
];
const STREETS: &[&str] = &[
    "JL. SUDIRMAN",
    "JL. DIPONEGORO",
    "JL. GAJAH MADA",
    "JL. AHMAD YANI",
    "JL. PAHLAWAN",
    "JL. MAWAR",
    "JL. MELATI",
    "JL. KENANGA",
    "JL. CEMPAKA",
    "JL. ANGGREK",
];
const JOBS: &[&str] = &[
    "KARYAWAN SWASTA",
    "WIRASWASTA",
    "PELAJAR/MAHASISWA",
    "PEGAWAI NEGERI SIPIL",
    "PETANI/PEKEBUN",
    "MENGURUS RUMAH TANGGA",
    "GURU",
    "PEDAGANG",
    "BURUH HARIAN LEPAS",
    "DOKTER",
];
const MARITAL: &[&str] = &["BELUM KAWIN", "KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];

/// SplitMix64: tiny, fast, and stable across versions (unlike a library RNG whose
/// algorithm may change), so seeds reproduce forever.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// `count` people for `seed`. Serials stay below 9000: 9000-9999 are the
/// reserved fault NIKs.
pub fn generate(count: usize, seed: u64) -> Vec<Record> {
    let mut rng = SplitMix64(seed ^ 0x6C61_6972_2D76_6973);
    let mut used: HashSet<String> = HashSet::with_capacity(count);
    let mut people = Vec::with_capacity(count);
    while people.len() < count {
        let region = &REGIONS[rng.below(REGIONS.len() as u64) as usize];
        let gender = if rng.below(2) == 0 { Gender::Male } else { Gender::Female };
        let birth = Date::from_days_since_epoch(rng.below(20_000) as i64 - 7_300); // 1950..2004
        let nik_day = birth.day() + if gender == Gender::Female { 40 } else { 0 };
        let prefix = format!("{}{nik_day:02}{:02}{:02}", region.code, birth.month(), birth.year() % 100);
        let mut serial = 1 + rng.below(8999);
        let nik = loop {
            let nik = format!("{prefix}{serial:04}");
            if !used.contains(&nik) {
                break nik;
            }
            serial = serial % 8999 + 1;
        };
        used.insert(nik.clone());
        let given = rng.pick(if gender == Gender::Male { MALE_NAMES } else { FEMALE_NAMES });
        let mut fields = VerificationRequest::new(nik);
        fields.set(Field::Name, format!("{given} {}", rng.pick(FAMILY_NAMES)));
        fields.set(Field::DateOfBirth, birth.to_dmy());
        fields.set(Field::NoKk, format!("{}{:010}", region.code, rng.below(10_000_000_000)));
        fields.set(Field::MotherMaidenName, format!("{} {}", rng.pick(FEMALE_NAMES), rng.pick(FAMILY_NAMES)));
        fields.set(
            Field::PlaceOfBirth,
            region.city.trim_start_matches("KOTA ").trim_start_matches("KABUPATEN "),
        );
        fields.set(Field::Address, format!("{} NO. {}", rng.pick(STREETS), 1 + rng.below(200)));
        fields.set(Field::Gender, gender.as_ktp());
        fields.set(Field::MaritalStatus, rng.pick(MARITAL));
        fields.set(Field::JobType, rng.pick(JOBS));
        fields.set(Field::Province, region.province);
        fields.set(Field::City, region.city);
        fields.set(Field::District, region.district);
        fields.set(Field::Subdistrict, region.subdistrict);
        fields.set(Field::Rt, format!("{:03}", 1 + rng.below(20)));
        fields.set(Field::Rw, format!("{:03}", 1 + rng.below(15)));
        people.push(Record::new(fields).expect("generated people are valid"));
    }
    people
}

#[cfg(test)]
mod tests {
    use super::*;
    use glair_vision::Nik;

    #[test]
    fn same_seed_same_people_and_niks_agree_with_records() {
        let a = generate(500, 7);
        assert_eq!(a, generate(500, 7));
        assert_ne!(a, generate(500, 8));
        let unique: HashSet<&str> = a.iter().map(Record::nik).collect();
        assert_eq!(unique.len(), 500);
        for person in &a {
            let nik = Nik::parse(person.nik()).unwrap();
            assert!(nik.serial() < 9000);
            let dob = Date::parse_dmy(person.get(Field::DateOfBirth).unwrap());
            let gender = Gender::parse(person.get(Field::Gender).unwrap());
            assert!(nik.consistency(dob, gender).is_consistent());
            assert_eq!(nik.birth_date(dob), dob);
        }
    }
}
