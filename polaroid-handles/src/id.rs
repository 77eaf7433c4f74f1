use std::fmt;
use std::str::FromStr;

use crate::error::HandleError;

/// An unguessable handle id: 128 bits from the operating system's secure
/// random generator, printed as a lowercase UUID-shaped string of 36 chars.
///
/// ```
/// use polaroid_handles::HandleId;
/// let id = HandleId::generate();
/// let text = id.to_string();
/// assert_eq!(text.len(), 36);
/// assert_eq!(text.parse::<HandleId>().unwrap(), id);
/// assert!("not-a-handle".parse::<HandleId>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandleId(u128);

impl HandleId {
    /// Length of the printed form.
    pub const TEXT_LEN: usize = 36;

    /// A fresh random id.
    ///
    /// # Panics
    /// Only if the operating system cannot provide randomness at all, in
    /// which case no secure id can be made.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random number generator failed");
        Self(u128::from_be_bytes(bytes))
    }

    pub fn as_u128(self) -> u128 {
        self.0
    }
}

impl fmt::Display for HandleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for HandleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleId({self})")
    }
}

impl FromStr for HandleId {
    type Err = HandleError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = |reason: &'static str| HandleError::MalformedId {
            input: input.chars().take(64).collect(),
            reason,
        };
        if input.len() != Self::TEXT_LEN {
            return Err(malformed("a handle id is 36 characters, like 0f8e6a3c-51b2-4c7d-9a10-2b3c4d5e6f70"));
        }
        let mut value: u128 = 0;
        for (i, c) in input.chars().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != '-' {
                    return Err(malformed("expected '-' at positions 9, 14, 19 and 24"));
                }
                continue;
            }
            let digit = match c {
                '0'..='9' | 'a'..='f' => c.to_digit(16).unwrap(),
                'A'..='F' => return Err(malformed("hex digits must be lowercase")),
                _ => return Err(malformed("only hex digits and '-' are allowed")),
            };
            value = (value << 4) | u128::from(digit);
        }
        Ok(Self(value))
    }
}
