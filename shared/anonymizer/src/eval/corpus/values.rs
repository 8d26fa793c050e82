//! The values the documents are made of: PII and secrets with valid checksums (cards, IBANs,
//! SSNs, phones, keys and tokens) and the operational tokens that must survive.

use super::words::{CITIES, REGIONS, SERVICES, STREETS, SUFFIXES};
use super::{Gen, Person, Rng};

pub(super) fn luhn_complete(prefix: &str, len: usize, r: &mut Rng) -> String {
    let mut d: Vec<u32> = prefix.bytes().map(|b| u32::from(b - b'0')).collect();
    while d.len() < len - 1 {
        d.push(u32::try_from(r.below(10)).unwrap_or(0));
    }
    let mut sum = 0;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut v = x;
        if i % 2 == 0 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    d.push((10 - sum % 10) % 10);
    d.iter()
        .map(|x| char::from_digit(*x, 10).unwrap_or('0'))
        .collect()
}

pub(super) fn iban_with_check(cc: &str, bban: &str) -> String {
    let mut rem = 0u64;
    for c in bban.chars().chain(cc.chars()).chain("00".chars()) {
        let v = c.to_digit(36).map_or(0, u64::from);
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    format!("{cc}{:02}{bban}", 98 - rem)
}

pub(super) fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Gen {
    pub(super) fn person(&mut self) -> Person {
        let i = self.r.below(self.people.len());
        self.people[i].clone()
    }

    pub(super) fn ts(&mut self) -> String {
        format!(
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
            1 + self.r.below(12),
            1 + self.r.below(28),
            self.r.below(24),
            self.r.below(60),
            self.r.below(60),
            self.r.digits(3)
        )
    }
    pub(super) fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.r.hex(8),
            self.r.hex(4),
            self.r.hex(3),
            self.r.hex(3),
            self.r.hex(12)
        )
    }
    pub(super) fn host(&mut self) -> String {
        match self.r.below(3) {
            0 => format!(
                "{}-{}.{}.prod.internal",
                self.r.pick(SERVICES),
                self.r.below(20),
                self.r.pick(REGIONS)
            ),
            1 => format!(
                "ip-10-{}-{}-{}.ec2.internal",
                self.r.below(256),
                self.r.below(256),
                self.r.below(256)
            ),
            _ => format!(
                "gke-prod-pool-1-{}-{}",
                self.r.hex(8),
                self.r.chars(b"abcdefghijklmnopqrstuvwxyz0123456789", 4)
            ),
        }
    }
    pub(super) fn pod(&mut self) -> String {
        format!(
            "{}-{}-{}",
            self.r.pick(SERVICES),
            self.r.hex(10),
            self.r.chars(b"bcdfghjklmnpqrstvwxz2456789", 5)
        )
    }
    pub(super) fn version(&mut self) -> String {
        format!(
            "v{}.{}.{}",
            1 + self.r.below(3),
            self.r.below(20),
            self.r.below(50)
        )
    }
    pub(super) fn path(&mut self) -> String {
        match self.r.below(3) {
            0 => "/var/log/nginx/error.log".to_string(),
            1 => format!("/api/v2/orders/{}", self.r.digits(6)),
            _ => format!(
                "src/{}/handler.rs:{}",
                self.r.pick(SERVICES).replace('-', "_"),
                10 + self.r.below(400)
            ),
        }
    }
    pub(super) fn email(&mut self, p: &Person) -> String {
        if self.r.below(4) == 0 {
            p.email.to_uppercase()
        } else {
            p.email.clone()
        }
    }
    pub(super) fn phone(&mut self) -> String {
        let area = self
            .r
            .pick(&["212", "415", "617", "312", "206", "303", "512"]);
        let ex = format!("{}{}", 2 + self.r.below(8), self.r.digits(2));
        match self.r.below(6) {
            0 => format!("({area}) {ex}-{}", self.r.digits(4)),
            1 => format!("+1 {area}-{ex}-{}", self.r.digits(4)),
            2 => format!("+44 20 7{} {}", self.r.digits(3), self.r.digits(4)),
            3 => format!("+49 30 {}", self.r.digits(8)),
            4 => format!(
                "+33 6 {} {} {} {}",
                self.r.digits(2),
                self.r.digits(2),
                self.r.digits(2),
                self.r.digits(2)
            ),
            _ => format!("{area}.{ex}.{}", self.r.digits(4)),
        }
    }
    pub(super) fn card(&mut self) -> String {
        let (pre, len) =
            [("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)][self.r.below(5)];
        let n = luhn_complete(pre, len, &mut self.r);
        match self.r.below(3) {
            0 => n,
            1 if len == 16 => group4(&n),
            _ if len == 16 => group4(&n).replace(' ', "-"),
            _ => n,
        }
    }
    pub(super) fn iban(&mut self) -> String {
        let i = match self.r.below(3) {
            0 => iban_with_check("DE", &self.r.digits(18)),
            1 => {
                let bank = self.r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4);
                iban_with_check("GB", &format!("{bank}{}", self.r.digits(14)))
            }
            _ => iban_with_check("FR", &self.r.digits(23)),
        };
        if self.r.coin() {
            group4(&i)
        } else {
            i
        }
    }
    pub(super) fn public_ip(&mut self) -> String {
        if self.r.below(4) == 0 {
            return format!(
                "2001:db8:{}:{}::{}",
                self.r.hex(4),
                self.r.hex(3),
                self.r.hex(2)
            );
        }
        let first = [23, 34, 52, 81, 93, 145, 185, 203, 212][self.r.below(9)];
        format!(
            "{first}.{}.{}.{}",
            self.r.below(256),
            self.r.below(256),
            1 + self.r.below(254)
        )
    }
    pub(super) fn ssn(&mut self) -> String {
        let area = [1 + self.r.below(665), 667 + self.r.below(232)][self.r.below(2)];
        format!(
            "{area:03}-{:02}-{:04}",
            1 + self.r.below(99),
            1 + self.r.below(9999)
        )
    }
    pub(super) fn address(&mut self) -> String {
        format!(
            "{} {} {}, {} {}",
            1 + self.r.below(9999),
            self.r.pick(STREETS),
            self.r.pick(SUFFIXES),
            self.r.pick(CITIES),
            self.r.digits(5)
        )
    }
    pub(super) fn secret_pair(&mut self) -> (String, String) {
        match self.r.below(8) {
            0 => (
                "AWS_ACCESS_KEY_ID=".into(),
                format!(
                    "AKIA{}",
                    self.r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
                ),
            ),
            1 => (
                "export GITHUB_TOKEN=".into(),
                format!("ghp_{}", self.r.alnum(36)),
            ),
            2 => (
                "SLACK_BOT_TOKEN=".into(),
                format!(
                    "xoxb-{}-{}-{}",
                    self.r.digits(12),
                    self.r.digits(13),
                    self.r.alnum(24)
                ),
            ),
            3 => (
                "stripe key ".into(),
                format!("sk_live_{}", self.r.alnum(24)),
            ),
            4 => ("DD_API_KEY=".into(), self.r.hex(32)),
            5 => ("\"client_secret\": \"".into(), self.r.alnum(32)),
            6 => (
                "password=".into(),
                format!("{}{}!", self.r.alnum(8), self.r.digits(2)),
            ),
            _ => (
                "Authorization: Bearer ".into(),
                format!(
                    "eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}",
                    self.r.alnum(40),
                    self.r.alnum(43)
                ),
            ),
        }
    }
    pub(super) fn name(&mut self, p: &Person) -> String {
        match self.r.below(3) {
            0 => p.first.to_string(),
            _ => format!("{} {}", p.first, p.last),
        }
    }
}
