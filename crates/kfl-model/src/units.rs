//! Quantities with units: CPU, memory, GPU count and durations.
//!
//! A KFL number literal reaches the checker as two texts: the value (`"1.5"`, `"500"`, `"-2"`,
//! `"1e3"`) and an optional unit written straight after it (`"Gi"`, `"m"`, `"h30m"`). The type the
//! literal is expected to have decides what the unit means, so there is one parser per kind:
//! [`parse_cpu`], [`parse_memory`], [`parse_gpu`] and [`parse_duration`].
//!
//! Invariants:
//! - Pure: no IO, no global state, and no panic on any input text.
//! - Exact: the value text is read as a decimal (a whole significand times a power of ten), never
//!   as a float, so `0.1` cores is exactly 100 millicores and `1.5Gi` exactly 1610612736 bytes.
//! - Whole in the base unit: a [`Cpu`] is whole millicores, a [`Memory`] whole bytes, a
//!   [`Duration`] whole seconds, a GPU count a whole number. Anything finer is an error; nothing is
//!   ever rounded.
//! - Positive: a [`Cpu`], [`Memory`] or [`Duration`] is never zero (it holds a `NonZeroU64`). A GPU
//!   count may be zero but never negative.
//! - Round trip: [`Cpu::to_k8s`] and [`Memory::to_k8s`] give canonical Kubernetes quantities, and
//!   [`Duration`]'s `Display` gives KFL text; parsing that text again gives the same value.
//! - The unit decides the kind: a unit that belongs to another kind is [`UnitError::WrongUnit`], a
//!   misspelling is [`UnitError::UnknownUnit`] with a suggestion when one is likely. `m` is both
//!   millicores (CPU) and minutes (duration), so it is never a wrong unit for either of them.

use std::fmt;
use std::num::NonZeroU64;

/// What a number literal is expected to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityKind {
    Cpu,
    Memory,
    Gpu,
    Duration,
}

impl QuantityKind {
    /// The name used in messages: "CPU", "memory", "GPU count", "duration".
    pub fn human_name(self) -> &'static str {
        match self {
            QuantityKind::Cpu => "CPU",
            QuantityKind::Memory => "memory",
            QuantityKind::Gpu => "GPU count",
            QuantityKind::Duration => "duration",
        }
    }

    /// A help sentence saying how to write a quantity of this kind.
    pub fn how_to_write(self) -> &'static str {
        match self {
            QuantityKind::Cpu => "write CPU as cores such as 2 or 0.5, or as millicores such as 500m",
            QuantityKind::Memory => {
                "write memory with a unit such as 512Mi or 4Gi (Ki Mi Gi Ti Pi Ei are powers of 1024, \
                 k M G T P E powers of 1000)"
            }
            QuantityKind::Gpu => "write a GPU count as a plain whole number such as 1 or 2",
            QuantityKind::Duration => "write a duration with a unit such as 30s, 10m, 2h, 1d or 1h30m",
        }
    }
}

impl fmt::Display for QuantityKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.human_name())
    }
}

/// Why a number literal could not be read, in detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MalformedReason {
    /// The value text is not a decimal number (`1..5`, `abc`, empty).
    NotANumber { text: String },
    /// More than 38 significant digits: no exact arithmetic is possible.
    TooManyDigits,
    /// The quantity does not fit (more than `u64::MAX` in the base unit, or `u32::MAX` GPUs).
    TooLarge,
    /// Cores with more than three decimals, e.g. `0.0001`: finer than one millicore.
    FinerThanMillicore,
    /// Millicores with decimals, e.g. `1.5m`.
    FractionalMillicores,
    /// Memory that is not a whole number of bytes, e.g. `1.5` or `0.1k`.
    FractionalBytes,
    /// A duration that is not a whole number of seconds, e.g. `1.5s`.
    FractionalSeconds,
    /// A number at the end of a compound duration with no unit after it, e.g. the `30` of `1h30`.
    NumberWithoutUnit { number: String },
    /// A compound duration whose units are repeated or not from largest to smallest, e.g. `30m1h`.
    DurationUnitsOutOfOrder { unit: String },
    /// Units combined in something that is not a duration, e.g. `1Gi512Mi`.
    UnitsCombined { unit: String },
}

/// A number literal that is not a valid quantity of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitError {
    /// The number itself is wrong (see [`MalformedReason`]).
    Malformed { expected: QuantityKind, reason: MalformedReason },
    /// A unit no kind knows, with the likely intended unit of the expected kind.
    UnknownUnit { unit: String, expected: QuantityKind, suggestion: Option<&'static str> },
    /// A real unit, but of another kind: `Gi` for CPU, `h` for memory, `m` for memory.
    WrongUnit { unit: String, expected: QuantityKind, meant_for: QuantityKind },
    /// A number without a unit where one is required (durations only).
    MissingUnit { expected: QuantityKind },
    /// A sub-second duration unit (`ms`, `us`, `ns`): pods are timed in whole seconds.
    SubSecondUnit { unit: String },
    /// Zero or negative CPU, memory or duration.
    NonPositive { expected: QuantityKind },
    /// A negative GPU count (zero GPUs is fine).
    Negative { expected: QuantityKind },
    /// A GPU count with a fraction, e.g. `0.5`.
    NotWhole { expected: QuantityKind },
}

impl UnitError {
    /// The kind of quantity that was expected.
    pub fn expected(&self) -> QuantityKind {
        match self {
            UnitError::Malformed { expected, .. }
            | UnitError::UnknownUnit { expected, .. }
            | UnitError::WrongUnit { expected, .. }
            | UnitError::MissingUnit { expected }
            | UnitError::NonPositive { expected }
            | UnitError::Negative { expected }
            | UnitError::NotWhole { expected } => *expected,
            UnitError::SubSecondUnit { .. } => QuantityKind::Duration,
        }
    }

    /// The unit to write instead of the one given, when there is a likely one (for a quick fix).
    pub fn suggested_unit(&self) -> Option<&'static str> {
        match self {
            UnitError::UnknownUnit { suggestion, .. } => *suggestion,
            UnitError::WrongUnit { unit, expected, .. }
                if unit == "M" && matches!(expected, QuantityKind::Cpu | QuantityKind::Duration) =>
            {
                Some("m")
            }
            _ => None,
        }
    }

    /// A help sentence that says what to do: lowercase, no final period.
    pub fn help(&self) -> String {
        match self {
            UnitError::Malformed { expected, reason } => malformed_help(*expected, reason),
            UnitError::UnknownUnit { expected: QuantityKind::Gpu, .. } => QuantityKind::Gpu.how_to_write().to_string(),
            UnitError::UnknownUnit { expected, suggestion: Some(suggestion), .. } => {
                format!("did you mean `{suggestion}`? {}", expected.how_to_write())
            }
            UnitError::UnknownUnit { expected, .. } => expected.how_to_write().to_string(),
            UnitError::WrongUnit { unit, expected: QuantityKind::Memory, .. } if unit == "m" => {
                "`m` means millicores for CPU or minutes for a duration; \
                                 write memory with a unit such as 512Mi or 4Gi"
                    .to_string()
            }
            UnitError::WrongUnit {
                unit, expected: expected @ (QuantityKind::Cpu | QuantityKind::Duration), ..
            } if unit == "M" => {
                let meaning = match expected {
                    QuantityKind::Cpu => "millicores",
                    _ => "minutes",
                };
                format!("did you mean `m` ({meaning})? `M` is mega, a memory unit")
            }
            UnitError::WrongUnit { unit, expected, meant_for } => {
                format!("`{unit}` is for {}; {}", meant_for.human_name(), expected.how_to_write())
            }
            UnitError::MissingUnit { expected } => expected.how_to_write().to_string(),
            UnitError::SubSecondUnit { .. } => {
                "pods start and stop in seconds; write whole seconds such as 1s or 30s".to_string()
            }
            UnitError::NonPositive { expected } => match expected {
                QuantityKind::Cpu => "request at least 1m (one millicore)".to_string(),
                QuantityKind::Memory => "write a positive amount such as 512Mi".to_string(),
                QuantityKind::Duration => "write a positive duration such as 30s".to_string(),
                QuantityKind::Gpu => "write a GPU count of 0 or more".to_string(),
            },
            UnitError::Negative { expected } => match expected {
                QuantityKind::Gpu => "write a GPU count of 0 or more".to_string(),
                other => other.how_to_write().to_string(),
            },
            UnitError::NotWhole { expected } => match expected {
                QuantityKind::Gpu => "GPUs are whole devices: write 1, 2 or more".to_string(),
                other => other.how_to_write().to_string(),
            },
        }
    }
}

fn malformed_help(expected: QuantityKind, reason: &MalformedReason) -> String {
    match reason {
        MalformedReason::NotANumber { .. } => "write a number such as 2, 0.5 or 1e3".to_string(),
        MalformedReason::TooManyDigits => "write the number with fewer digits".to_string(),
        MalformedReason::TooLarge => {
            format!("this is more than a {} can hold; check the number and its unit", expected.human_name())
        }
        MalformedReason::FinerThanMillicore => "the smallest CPU amount is 1m (0.001 cores)".to_string(),
        MalformedReason::FractionalMillicores => "millicores are whole: write 500m, not 500.5m".to_string(),
        MalformedReason::FractionalBytes => {
            "memory is whole bytes: use a smaller unit, such as 1536Mi for 1.5Gi".to_string()
        }
        MalformedReason::FractionalSeconds => {
            "durations are whole seconds: use a smaller unit, such as 90s for 1.5m".to_string()
        }
        MalformedReason::NumberWithoutUnit { .. } => "give every number in a duration a unit, as in 1h30m".to_string(),
        MalformedReason::DurationUnitsOutOfOrder { .. } => {
            "write each unit once, from largest to smallest (d, h, m, s), as in 1d2h or 1h30m".to_string()
        }
        MalformedReason::UnitsCombined { .. } => {
            format!("only durations combine units; {}", expected.how_to_write())
        }
    }
}

impl fmt::Display for UnitError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::Malformed { expected, reason } => match reason {
                MalformedReason::NotANumber { text } => {
                    write!(formatter, "`{text}` is not a number")
                }
                MalformedReason::TooManyDigits => formatter.write_str("number has too many significant digits"),
                MalformedReason::TooLarge => write!(formatter, "{expected} is too large"),
                MalformedReason::FinerThanMillicore => formatter.write_str("CPU is finer than one millicore"),
                MalformedReason::FractionalMillicores => formatter.write_str("millicores must be a whole number"),
                MalformedReason::FractionalBytes => formatter.write_str("memory is not a whole number of bytes"),
                MalformedReason::FractionalSeconds => formatter.write_str("duration is not a whole number of seconds"),
                MalformedReason::NumberWithoutUnit { number } => {
                    write!(formatter, "`{number}` in the duration has no unit")
                }
                MalformedReason::DurationUnitsOutOfOrder { unit } => {
                    write!(formatter, "`{unit}` is repeated or out of order in the duration")
                }
                MalformedReason::UnitsCombined { unit } => {
                    write!(formatter, "units cannot be combined in {expected}: `{unit}`")
                }
            },
            UnitError::UnknownUnit { unit, expected: QuantityKind::Gpu, .. } => {
                write!(formatter, "a GPU count takes no unit, found `{unit}`")
            }
            UnitError::UnknownUnit { unit, expected, .. } => {
                write!(formatter, "unknown {expected} unit `{unit}`")
            }
            UnitError::WrongUnit { unit, expected, meant_for } => {
                write!(formatter, "`{unit}` is a {meant_for} unit, not a {expected} unit")
            }
            UnitError::MissingUnit { expected } => write!(formatter, "{expected} needs a unit"),
            UnitError::SubSecondUnit { unit } => {
                write!(formatter, "`{unit}` is finer than a second")
            }
            UnitError::NonPositive { expected } => {
                write!(formatter, "{expected} must be greater than zero")
            }
            UnitError::Negative { expected } => write!(formatter, "{expected} cannot be negative"),
            UnitError::NotWhole { expected } => {
                write!(formatter, "{expected} must be a whole number")
            }
        }
    }
}

impl std::error::Error for UnitError {}

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// A positive amount of CPU, in millicores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpu(NonZeroU64);

impl Cpu {
    /// `None` for zero: a CPU amount is always positive.
    pub fn from_millicores(millicores: u64) -> Option<Cpu> {
        NonZeroU64::new(millicores).map(Cpu)
    }

    pub fn millicores(self) -> u64 {
        self.0.get()
    }

    /// The canonical Kubernetes quantity: whole cores as `"2"`, anything else as `"1500m"`.
    pub fn to_k8s(self) -> String {
        let millicores = self.millicores();
        if millicores.is_multiple_of(1000) {
            format!("{}", millicores / 1000)
        } else {
            format!("{millicores}m")
        }
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_k8s())
    }
}

/// A positive amount of memory, in bytes.
///
/// It also records whether the literal had no unit (`without_unit`), so the checker can warn
/// about `memory: 512` (512 bytes). Equality, ordering and hashing look at the bytes only: how a
/// quantity was written does not change what it is.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    bytes: NonZeroU64,
    without_unit: bool,
}

const BINARY_MEMORY_UNITS: [(&str, u64); 6] =
    [("Ei", 1 << 60), ("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];

const DECIMAL_MEMORY_UNITS: [(&str, u64); 6] = [
    ("E", 1_000_000_000_000_000_000),
    ("P", 1_000_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("G", 1_000_000_000),
    ("M", 1_000_000),
    ("k", 1_000),
];

impl Memory {
    /// `None` for zero: a memory amount is always positive.
    pub fn from_bytes(bytes: u64) -> Option<Memory> {
        NonZeroU64::new(bytes).map(|bytes| Memory { bytes, without_unit: false })
    }

    pub fn bytes(self) -> u64 {
        self.bytes.get()
    }

    /// True when the literal had no unit, i.e. it counts bytes: usually a mistake worth a warning.
    pub fn without_unit(self) -> bool {
        self.without_unit
    }

    /// The canonical Kubernetes quantity: the exact form with the smallest number, preferring a
    /// binary unit on a tie (`"32Gi"`, `"512Mi"`, `"1536Mi"`, `"4G"`), else plain bytes.
    pub fn to_k8s(self) -> String {
        let bytes = self.bytes();
        let mut best_number = bytes;
        let mut best_suffix = "";
        for (suffix, size) in BINARY_MEMORY_UNITS.iter().chain(DECIMAL_MEMORY_UNITS.iter()) {
            if bytes.is_multiple_of(*size) && bytes / size < best_number {
                best_number = bytes / size;
                best_suffix = suffix;
            }
        }
        format!("{best_number}{best_suffix}")
    }
}

impl PartialEq for Memory {
    fn eq(&self, other: &Memory) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Memory {}

impl PartialOrd for Memory {
    fn partial_cmp(&self, other: &Memory) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Memory {
    fn cmp(&self, other: &Memory) -> std::cmp::Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl std::hash::Hash for Memory {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_k8s())
    }
}

/// Duration units from largest to smallest; a compound must follow this order.
const DURATION_UNITS: [(&str, u64); 4] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];

/// A positive duration, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration(NonZeroU64);

impl Duration {
    /// `None` for zero: a duration is always positive.
    pub fn from_seconds(seconds: u64) -> Option<Duration> {
        NonZeroU64::new(seconds).map(Duration)
    }

    pub fn seconds(self) -> u64 {
        self.0.get()
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds())
    }

    /// The duration as Go's `time.ParseDuration` reads it (Argo's `timeout`): hours at most, no
    /// days, e.g. `"25h30m"`.
    pub fn to_go_duration_string(self) -> String {
        write_compound(self.seconds(), &DURATION_UNITS[1..])
    }
}

fn write_compound(seconds: u64, units: &[(&str, u64)]) -> String {
    let mut text = String::new();
    let mut remaining = seconds;
    for (suffix, size) in units {
        let count = remaining / size;
        if count > 0 {
            text.push_str(&count.to_string());
            text.push_str(suffix);
            remaining %= size;
        }
    }
    text
}

impl fmt::Display for Duration {
    /// KFL text, largest unit first, zero parts left out: `"1h30m"`, `"1d"`, `"2m30s"`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&write_compound(self.seconds(), &DURATION_UNITS))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Parses a CPU amount: no unit means cores (`0.5`, `2`), `m` means millicores (`500m`).
pub fn parse_cpu(value: &str, unit: Option<&str>) -> Result<Cpu, UnitError> {
    let expected = QuantityKind::Cpu;
    let number = ExactDecimal::parse(value, expected)?;
    let unit = unit.filter(|unit| !unit.is_empty());
    let exponent_shift = match unit {
        None => 3,
        Some("m") => 0,
        Some(other) => return Err(unit_error(other, expected)),
    };
    if number.is_zero() || number.negative {
        return Err(UnitError::NonPositive { expected });
    }
    let millicores = number
        .scaled_whole(1, exponent_shift)
        .map_err(|inexact| match inexact {
            Inexact::Fraction if unit.is_none() => MalformedReason::FinerThanMillicore,
            Inexact::Fraction => MalformedReason::FractionalMillicores,
            Inexact::Overflow => MalformedReason::TooLarge,
        })
        .and_then(|millicores| u64::try_from(millicores).map_err(|_| MalformedReason::TooLarge))
        .map_err(|reason| UnitError::Malformed { expected, reason })?;
    Cpu::from_millicores(millicores).ok_or(UnitError::NonPositive { expected })
}

/// Parses a memory amount: `Ki Mi Gi Ti Pi Ei` (powers of 1024), `k M G T P E` (powers of 1000),
/// or no unit for bytes (valid, but [`Memory::without_unit`] is set so the checker can warn).
pub fn parse_memory(value: &str, unit: Option<&str>) -> Result<Memory, UnitError> {
    let expected = QuantityKind::Memory;
    let number = ExactDecimal::parse(value, expected)?;
    let (multiplier, exponent_shift, without_unit) = match unit.filter(|unit| !unit.is_empty()) {
        None => (1, 0, true),
        Some(unit) => match memory_unit_scale(unit) {
            Some((multiplier, exponent_shift)) => (multiplier, exponent_shift, false),
            None => return Err(unit_error(unit, expected)),
        },
    };
    if number.is_zero() || number.negative {
        return Err(UnitError::NonPositive { expected });
    }
    let bytes = number
        .scaled_whole(multiplier, exponent_shift)
        .map_err(|inexact| match inexact {
            Inexact::Fraction => MalformedReason::FractionalBytes,
            Inexact::Overflow => MalformedReason::TooLarge,
        })
        .and_then(|bytes| u64::try_from(bytes).map_err(|_| MalformedReason::TooLarge))
        .map_err(|reason| UnitError::Malformed { expected, reason })?;
    let bytes = NonZeroU64::new(bytes).ok_or(UnitError::NonPositive { expected })?;
    Ok(Memory { bytes, without_unit })
}

/// Parses a GPU count: a whole number, 0 or more, without a unit.
pub fn parse_gpu(value: &str, unit: Option<&str>) -> Result<u32, UnitError> {
    let expected = QuantityKind::Gpu;
    let number = ExactDecimal::parse(value, expected)?;
    if let Some(unit) = unit.filter(|unit| !unit.is_empty()) {
        return Err(unit_error(unit, expected));
    }
    if number.negative && !number.is_zero() {
        return Err(UnitError::Negative { expected });
    }
    let count = number.scaled_whole(1, 0).map_err(|inexact| match inexact {
        Inexact::Fraction => UnitError::NotWhole { expected },
        Inexact::Overflow => UnitError::Malformed { expected, reason: MalformedReason::TooLarge },
    })?;
    u32::try_from(count).map_err(|_| UnitError::Malformed { expected, reason: MalformedReason::TooLarge })
}

/// Parses a duration: `s`, `m`, `h`, `d`, or a compound where the unit text continues the number
/// (value `"1"`, unit `"h30m"` is 1h30m). The result must be whole seconds; a unit is required and
/// sub-second units (`ms`) are rejected.
pub fn parse_duration(value: &str, unit: Option<&str>) -> Result<Duration, UnitError> {
    let expected = QuantityKind::Duration;
    let number = ExactDecimal::parse(value, expected)?;
    let unit_text = unit.filter(|unit| !unit.is_empty()).ok_or(UnitError::MissingUnit { expected })?;
    if number.negative && !number.is_zero() {
        return Err(UnitError::NonPositive { expected });
    }
    let malformed = |reason| UnitError::Malformed { expected, reason };

    let mut rest = unit_text;
    let first_unit = take_leading(&mut rest, |byte| byte.is_ascii_alphabetic());
    if first_unit.is_empty() {
        return Err(UnitError::UnknownUnit { unit: unit_text.to_string(), expected, suggestion: None });
    }
    let (first_rank, first_seconds) = duration_unit(first_unit)?;
    let mut total_seconds = number.scaled_whole(u128::from(first_seconds), 0).map_err(|inexact| match inexact {
        Inexact::Fraction => malformed(MalformedReason::FractionalSeconds),
        Inexact::Overflow => malformed(MalformedReason::TooLarge),
    })?;
    let mut previous_rank = first_rank;
    while !rest.is_empty() {
        let digits = take_leading(&mut rest, |byte| byte.is_ascii_digit());
        let part_unit = take_leading(&mut rest, |byte| byte.is_ascii_alphabetic());
        if digits.is_empty() {
            // Not a letter and not a digit: the grammar never gives this, but stay total.
            return Err(UnitError::UnknownUnit { unit: unit_text.to_string(), expected, suggestion: None });
        }
        if part_unit.is_empty() {
            return Err(malformed(MalformedReason::NumberWithoutUnit { number: digits.to_string() }));
        }
        let (rank, seconds_per_unit) = duration_unit(part_unit)?;
        if rank <= previous_rank {
            return Err(malformed(MalformedReason::DurationUnitsOutOfOrder { unit: part_unit.to_string() }));
        }
        previous_rank = rank;
        let count = parse_whole_digits(digits).ok_or(malformed(MalformedReason::TooLarge))?;
        total_seconds = count
            .checked_mul(u128::from(seconds_per_unit))
            .and_then(|part_seconds| total_seconds.checked_add(part_seconds))
            .ok_or(malformed(MalformedReason::TooLarge))?;
    }
    if number.negative && total_seconds != 0 {
        return Err(UnitError::NonPositive { expected });
    }
    let total_seconds = u64::try_from(total_seconds).map_err(|_| malformed(MalformedReason::TooLarge))?;
    Duration::from_seconds(total_seconds).ok_or(UnitError::NonPositive { expected })
}

/// The rank (0 = largest) and length in seconds of one duration unit, or why it is not one.
fn duration_unit(unit: &str) -> Result<(usize, u64), UnitError> {
    DURATION_UNITS
        .iter()
        .enumerate()
        .find(|(_, (name, _))| *name == unit)
        .map(|(rank, (_, seconds))| (rank, *seconds))
        .ok_or_else(|| classify_unit(unit, unit, QuantityKind::Duration))
}

fn memory_unit_scale(unit: &str) -> Option<(u128, i64)> {
    let binary = BINARY_MEMORY_UNITS.iter().find(|(name, _)| *name == unit).map(|(_, size)| (u128::from(*size), 0));
    let decimal = ["k", "M", "G", "T", "P", "E"]
        .iter()
        .zip([3, 6, 9, 12, 15, 18])
        .find(|(name, _)| **name == unit)
        .map(|(_, exponent)| (1, exponent));
    binary.or(decimal)
}

/// Splits off the longest prefix of `text` whose bytes all satisfy `accept`.
fn take_leading<'text>(text: &mut &'text str, accept: fn(&u8) -> bool) -> &'text str {
    let length = text.bytes().take_while(accept).count();
    // `accept` only takes ASCII bytes, so `length` is on a character boundary.
    let (taken, rest) = text.split_at_checked(length).unwrap_or((*text, ""));
    *text = rest;
    taken
}

fn parse_whole_digits(digits: &str) -> Option<u128> {
    digits
        .bytes()
        .try_fold(0u128, |total, byte| total.checked_mul(10)?.checked_add(u128::from(byte.checked_sub(b'0')?)))
}

// ---------------------------------------------------------------------------------------------
// Units: which kind owns which unit, and likely misspellings
// ---------------------------------------------------------------------------------------------

fn is_unit_of(unit: &str, kind: QuantityKind) -> bool {
    match kind {
        QuantityKind::Cpu => unit == "m",
        QuantityKind::Memory => memory_unit_scale(unit).is_some(),
        QuantityKind::Gpu => false,
        QuantityKind::Duration => DURATION_UNITS.iter().any(|(name, _)| *name == unit),
    }
}

/// The kind other than `expected` that `unit` belongs to; memory is tried first, then CPU, then
/// durations (so `m` given to memory is a CPU unit, and `m` given to CPU is fine).
fn other_owner(unit: &str, expected: QuantityKind) -> Option<QuantityKind> {
    [QuantityKind::Memory, QuantityKind::Cpu, QuantityKind::Duration]
        .into_iter()
        .filter(|kind| *kind != expected)
        .find(|kind| is_unit_of(unit, *kind))
}

/// Likely meanings of units nobody accepts: spellings from other tools and wrong letter case.
fn guess_unit(unit: &str) -> Option<(&'static str, QuantityKind)> {
    let lowercase = unit.to_ascii_lowercase();
    let guess = match lowercase.as_str() {
        "k" | "ki" | "kb" | "kib" => ("Ki", QuantityKind::Memory),
        "mi" | "mb" | "mib" => ("Mi", QuantityKind::Memory),
        "g" | "gi" | "gb" | "gib" => ("Gi", QuantityKind::Memory),
        "t" | "ti" | "tb" | "tib" => ("Ti", QuantityKind::Memory),
        "p" | "pi" | "pb" | "pib" => ("Pi", QuantityKind::Memory),
        "e" | "ei" | "eb" | "eib" => ("Ei", QuantityKind::Memory),
        "s" | "sec" | "secs" | "second" | "seconds" => ("s", QuantityKind::Duration),
        "min" | "mins" | "minute" | "minutes" => ("m", QuantityKind::Duration),
        "h" | "hr" | "hrs" | "hour" | "hours" => ("h", QuantityKind::Duration),
        "d" | "day" | "days" => ("d", QuantityKind::Duration),
        "mc" | "mcpu" | "millicpu" | "millicore" | "millicores" | "u" | "n" => ("m", QuantityKind::Cpu),
        _ => return None,
    };
    Some(guess)
}

fn is_sub_second(unit: &str) -> bool {
    matches!(
        unit.to_ascii_lowercase().as_str(),
        "ms" | "us" | "µs" | "ns" | "msec" | "msecs" | "millisecond" | "milliseconds"
    )
}

/// The error for a unit text that is not a valid unit of `expected` on its own. A unit text with
/// digits in it (`Gi512Mi`, `h30m`) is judged by its leading letters.
fn unit_error(unit: &str, expected: QuantityKind) -> UnitError {
    let mut rest = unit;
    let leading = take_leading(&mut rest, |byte| byte.is_ascii_alphabetic());
    if !rest.is_empty() && is_unit_of(leading, expected) {
        return UnitError::Malformed { expected, reason: MalformedReason::UnitsCombined { unit: unit.to_string() } };
    }
    let judged = if leading.is_empty() { unit } else { leading };
    classify_unit(judged, unit, expected)
}

/// Why `judged` is not a unit of `expected`; `reported` is the text named in the error.
fn classify_unit(judged: &str, reported: &str, expected: QuantityKind) -> UnitError {
    let unit = reported.to_string();
    if is_sub_second(judged) {
        return match expected {
            QuantityKind::Duration => UnitError::SubSecondUnit { unit },
            _ => UnitError::WrongUnit { unit, expected, meant_for: QuantityKind::Duration },
        };
    }
    if let Some(meant_for) = other_owner(judged, expected) {
        return UnitError::WrongUnit { unit, expected, meant_for };
    }
    match guess_unit(judged) {
        Some((suggestion, kind)) if kind == expected => {
            UnitError::UnknownUnit { unit, expected, suggestion: Some(suggestion) }
        }
        Some((_, meant_for)) if expected != QuantityKind::Gpu => UnitError::WrongUnit { unit, expected, meant_for },
        _ => UnitError::UnknownUnit { unit, expected, suggestion: None },
    }
}

// ---------------------------------------------------------------------------------------------
// Exact decimals
// ---------------------------------------------------------------------------------------------

/// `±significand × 10^exponent`, exactly. The significand has no trailing zeros; zero is stored
/// as significand 0, exponent 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExactDecimal {
    negative: bool,
    significand: u128,
    exponent: i64,
}

/// Why a decimal times a unit is not a whole number of base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inexact {
    Fraction,
    Overflow,
}

/// At most 38 decimal digits always fit in a u128 (whose maximum is about 3.4e38).
const MAX_SIGNIFICANT_DIGITS: usize = 38;

impl ExactDecimal {
    /// Reads `-?digits(.digits)?([eE][+-]?digits)?`, the grammar's `number_value`.
    fn parse(text: &str, expected: QuantityKind) -> Result<ExactDecimal, UnitError> {
        let not_a_number =
            || UnitError::Malformed { expected, reason: MalformedReason::NotANumber { text: text.to_string() } };
        let (negative, mut rest) = match text.strip_prefix('-') {
            Some(after_minus) => (true, after_minus),
            None => (false, text),
        };
        let integer_digits = take_leading(&mut rest, |byte| byte.is_ascii_digit());
        if integer_digits.is_empty() {
            return Err(not_a_number());
        }
        let mut fraction_digits = "";
        if let Some(after_point) = rest.strip_prefix('.') {
            rest = after_point;
            fraction_digits = take_leading(&mut rest, |byte| byte.is_ascii_digit());
            if fraction_digits.is_empty() {
                return Err(not_a_number());
            }
        }
        let mut written_exponent: i64 = 0;
        if let Some(after_e) = rest.strip_prefix(['e', 'E']) {
            rest = after_e;
            let exponent_negative = rest.starts_with('-');
            if let Some(after_sign) = rest.strip_prefix(['-', '+']) {
                rest = after_sign;
            }
            let exponent_digits = take_leading(&mut rest, |byte| byte.is_ascii_digit());
            if exponent_digits.is_empty() {
                return Err(not_a_number());
            }
            // Saturating: an exponent beyond ±i64 is far beyond anything that can be whole and fit.
            written_exponent = exponent_digits
                .bytes()
                .fold(0i64, |total, byte| total.saturating_mul(10).saturating_add(i64::from(byte - b'0')));
            if exponent_negative {
                written_exponent = -written_exponent;
            }
        }
        if !rest.is_empty() {
            return Err(not_a_number());
        }

        let all_digits: Vec<u8> = integer_digits.bytes().chain(fraction_digits.bytes()).collect();
        let fraction_length = i64::try_from(fraction_digits.len()).unwrap_or(i64::MAX);
        let leading_zeros = all_digits.iter().take_while(|byte| **byte == b'0').count();
        let significant = &all_digits[leading_zeros..];
        let trailing_zeros = significant.iter().rev().take_while(|byte| **byte == b'0').count();
        let significant = &significant[..significant.len() - trailing_zeros];
        if significant.is_empty() {
            return Ok(ExactDecimal { negative, significand: 0, exponent: 0 });
        }
        if significant.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(UnitError::Malformed { expected, reason: MalformedReason::TooManyDigits });
        }
        let significand = significant.iter().fold(0u128, |total, byte| total * 10 + u128::from(byte - b'0'));
        let exponent = written_exponent
            .saturating_sub(fraction_length)
            .saturating_add(i64::try_from(trailing_zeros).unwrap_or(i64::MAX));
        Ok(ExactDecimal { negative, significand, exponent })
    }

    fn is_zero(self) -> bool {
        self.significand == 0
    }

    /// `|self| × multiplier × 10^exponent_shift` as a whole number, ignoring the sign.
    fn scaled_whole(self, multiplier: u128, exponent_shift: i64) -> Result<u128, Inexact> {
        let product = self.significand.checked_mul(multiplier).ok_or(Inexact::Overflow)?;
        if product == 0 {
            return Ok(0);
        }
        let exponent = self.exponent.saturating_add(exponent_shift);
        let max_power = i64::try_from(MAX_SIGNIFICANT_DIGITS).unwrap_or(i64::MAX);
        if exponent >= 0 {
            if exponent > max_power {
                return Err(Inexact::Overflow);
            }
            let power = 10u128.pow(u32::try_from(exponent).map_err(|_| Inexact::Overflow)?);
            product.checked_mul(power).ok_or(Inexact::Overflow)
        } else {
            // u128::MAX < 10^39, so a nonzero product is never a multiple of 10^39 or more.
            if -exponent > max_power {
                return Err(Inexact::Fraction);
            }
            let power = 10u128.pow(u32::try_from(-exponent).map_err(|_| Inexact::Fraction)?);
            if product % power == 0 {
                Ok(product / power)
            } else {
                Err(Inexact::Fraction)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(value: &str, unit: Option<&str>) -> u64 {
        match parse_cpu(value, unit) {
            Ok(cpu) => cpu.millicores(),
            Err(error) => panic!("cpu {value} {unit:?}: {error}"),
        }
    }

    fn memory(value: &str, unit: Option<&str>) -> Memory {
        match parse_memory(value, unit) {
            Ok(memory) => memory,
            Err(error) => panic!("memory {value} {unit:?}: {error}"),
        }
    }

    fn seconds(value: &str, unit: &str) -> u64 {
        match parse_duration(value, Some(unit)) {
            Ok(duration) => duration.seconds(),
            Err(error) => panic!("duration {value}{unit}: {error}"),
        }
    }

    fn error_of<T: fmt::Debug>(result: Result<T, UnitError>) -> UnitError {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => error,
        }
    }

    fn malformed(expected: QuantityKind, reason: MalformedReason) -> UnitError {
        UnitError::Malformed { expected, reason }
    }

    /// Splits a canonical quantity like "1536Mi" into the parser's two texts.
    fn split_literal(text: &str) -> (&str, Option<&str>) {
        let unit_start = text.find(|character: char| character.is_ascii_alphabetic()).unwrap_or(text.len());
        let (value, unit) = text.split_at(unit_start);
        (value, if unit.is_empty() { None } else { Some(unit) })
    }

    // ---- numbers ------------------------------------------------------------------------------

    #[test]
    fn decimal_parsing_is_exact() {
        let parse = |text| ExactDecimal::parse(text, QuantityKind::Cpu);
        assert_eq!(parse("1.50"), Ok(ExactDecimal { negative: false, significand: 15, exponent: -1 }));
        assert_eq!(parse("-2000"), Ok(ExactDecimal { negative: true, significand: 2, exponent: 3 }));
        assert_eq!(parse("1e3"), Ok(ExactDecimal { negative: false, significand: 1, exponent: 3 }));
        assert_eq!(parse("2.5E-2"), Ok(ExactDecimal { negative: false, significand: 25, exponent: -3 }));
        assert_eq!(parse("000.000"), Ok(ExactDecimal { negative: false, significand: 0, exponent: 0 }));
    }

    #[test]
    fn malformed_numbers_are_rejected_without_panicking() {
        for text in
            ["", "-", ".5", "1.", "1..5", "1e", "1e+", "abc", "1x", "--1", "+1", "1.2.3", "١", "1 ", "1e3.5", "é"]
        {
            assert_eq!(
                parse_cpu(text, None),
                Err(malformed(QuantityKind::Cpu, MalformedReason::NotANumber { text: text.to_string() })),
                "{text:?}"
            );
        }
    }

    #[test]
    fn too_many_digits_and_huge_exponents() {
        let forty_digits = "1234567890123456789012345678901234567891";
        assert_eq!(
            parse_memory(forty_digits, None),
            Err(malformed(QuantityKind::Memory, MalformedReason::TooManyDigits))
        );
        // Trailing and leading zeros do not count as significant digits.
        let padded = format!("000{}.{}", "1", "0".repeat(60));
        assert_eq!(memory(&padded, None).bytes(), 1);
        assert_eq!(
            parse_memory("1e99999999999999999999999", Some("Gi")),
            Err(malformed(QuantityKind::Memory, MalformedReason::TooLarge))
        );
        assert_eq!(
            parse_memory("1e-99999999999999999999999", Some("Gi")),
            Err(malformed(QuantityKind::Memory, MalformedReason::FractionalBytes))
        );
        assert_eq!(
            parse_cpu("0e99999999999999999999999", None),
            Err(UnitError::NonPositive { expected: QuantityKind::Cpu })
        );
    }

    // ---- CPU ----------------------------------------------------------------------------------

    #[test]
    fn cpu_cores_and_millicores() {
        assert_eq!(cpu("2", None), 2000);
        assert_eq!(cpu("0.5", None), 500);
        assert_eq!(cpu("0.001", None), 1);
        assert_eq!(cpu("1.5", None), 1500);
        assert_eq!(cpu("500", Some("m")), 500);
        assert_eq!(cpu("1", Some("m")), 1);
        assert_eq!(cpu("1e3", Some("m")), 1000);
        assert_eq!(cpu("2e-1", None), 200);
        assert_eq!(cpu("4", Some("")), 4000);
    }

    #[test]
    fn cpu_precision_is_one_millicore() {
        assert_eq!(parse_cpu("0.0001", None), Err(malformed(QuantityKind::Cpu, MalformedReason::FinerThanMillicore)));
        assert_eq!(
            parse_cpu("1.5", Some("m")),
            Err(malformed(QuantityKind::Cpu, MalformedReason::FractionalMillicores))
        );
    }

    #[test]
    fn cpu_must_be_positive() {
        for (value, unit) in [("0", None), ("-2", None), ("0", Some("m")), ("-0.5", None)] {
            assert_eq!(parse_cpu(value, unit), Err(UnitError::NonPositive { expected: QuantityKind::Cpu }));
        }
    }

    #[test]
    fn cpu_overflow() {
        assert_eq!(cpu("18446744073709551615", Some("m")), u64::MAX);
        assert_eq!(
            parse_cpu("18446744073709551616", Some("m")),
            Err(malformed(QuantityKind::Cpu, MalformedReason::TooLarge))
        );
        assert_eq!(parse_cpu("18446744073709552", None), Err(malformed(QuantityKind::Cpu, MalformedReason::TooLarge)));
    }

    #[test]
    fn cpu_canonical_strings_round_trip() {
        for (value, unit, canonical) in [
            ("500", Some("m"), "500m"),
            ("2", None, "2"),
            ("1.5", None, "1500m"),
            ("2000", Some("m"), "2"),
            ("0.25", None, "250m"),
            ("1e3", None, "1000"),
        ] {
            let parsed = match parse_cpu(value, unit) {
                Ok(parsed) => parsed,
                Err(error) => panic!("{value}: {error}"),
            };
            assert_eq!(parsed.to_k8s(), canonical);
            assert_eq!(parsed.to_string(), canonical);
            let (again_value, again_unit) = split_literal(canonical);
            assert_eq!(parse_cpu(again_value, again_unit), Ok(parsed));
        }
    }

    #[test]
    fn cpu_wrong_and_unknown_units() {
        let wrong = |unit: &str, meant_for| UnitError::WrongUnit {
            unit: unit.to_string(),
            expected: QuantityKind::Cpu,
            meant_for,
        };
        assert_eq!(parse_cpu("4", Some("Gi")), Err(wrong("Gi", QuantityKind::Memory)));
        assert_eq!(parse_cpu("1", Some("h")), Err(wrong("h", QuantityKind::Duration)));
        assert_eq!(parse_cpu("1", Some("s")), Err(wrong("s", QuantityKind::Duration)));
        assert_eq!(parse_cpu("1", Some("min")), Err(wrong("min", QuantityKind::Duration)));
        assert_eq!(parse_cpu("1", Some("GB")), Err(wrong("GB", QuantityKind::Memory)));
        assert_eq!(parse_cpu("1", Some("ms")), Err(wrong("ms", QuantityKind::Duration)));
        assert_eq!(parse_cpu("1", Some("h30m")), Err(wrong("h30m", QuantityKind::Duration)));
        // `M` is mega (memory), but for CPU it is almost always a mistyped `m`.
        let capital_m = parse_cpu("500", Some("M"));
        assert_eq!(capital_m, Err(wrong("M", QuantityKind::Memory)));
        if let Err(error) = capital_m {
            assert_eq!(error.suggested_unit(), Some("m"));
            assert!(error.help().contains("did you mean `m` (millicores)"), "{}", error.help());
        }
        assert_eq!(
            parse_cpu("500", Some("millicores")),
            Err(UnitError::UnknownUnit {
                unit: "millicores".to_string(),
                expected: QuantityKind::Cpu,
                suggestion: Some("m")
            })
        );
        assert_eq!(
            parse_cpu("2", Some("cores")),
            Err(UnitError::UnknownUnit { unit: "cores".to_string(), expected: QuantityKind::Cpu, suggestion: None })
        );
        assert_eq!(
            parse_cpu("500", Some("m5")),
            Err(malformed(QuantityKind::Cpu, MalformedReason::UnitsCombined { unit: "m5".to_string() }))
        );
    }

    #[test]
    fn unit_is_checked_before_the_sign() {
        assert_eq!(
            parse_cpu("-2", Some("Gi")),
            Err(UnitError::WrongUnit {
                unit: "Gi".to_string(),
                expected: QuantityKind::Cpu,
                meant_for: QuantityKind::Memory
            })
        );
    }

    // ---- memory -------------------------------------------------------------------------------

    #[test]
    fn memory_binary_and_decimal_units() {
        assert_eq!(memory("1", Some("Ki")).bytes(), 1024);
        assert_eq!(memory("512", Some("Mi")).bytes(), 512 << 20);
        assert_eq!(memory("32", Some("Gi")).bytes(), 32 << 30);
        assert_eq!(memory("1", Some("Ti")).bytes(), 1 << 40);
        assert_eq!(memory("1", Some("Pi")).bytes(), 1 << 50);
        assert_eq!(memory("1", Some("Ei")).bytes(), 1 << 60);
        assert_eq!(memory("1", Some("k")).bytes(), 1_000);
        assert_eq!(memory("1", Some("M")).bytes(), 1_000_000);
        assert_eq!(memory("4", Some("G")).bytes(), 4_000_000_000);
        assert_eq!(memory("1", Some("T")).bytes(), 1_000_000_000_000);
        assert_eq!(memory("1", Some("P")).bytes(), 1_000_000_000_000_000);
        assert_eq!(memory("1", Some("E")).bytes(), 1_000_000_000_000_000_000);
        assert_eq!(memory("1.5", Some("Gi")).bytes(), 1_610_612_736);
        assert_eq!(memory("1e3", None).bytes(), 1000);
        assert_eq!(memory("1e3", Some("Mi")).bytes(), 1000 << 20);
        assert_eq!(memory("0.5", Some("k")).bytes(), 500);
    }

    #[test]
    fn memory_without_unit_is_bytes_and_flagged() {
        let bytes = memory("512", None);
        assert_eq!(bytes.bytes(), 512);
        assert!(bytes.without_unit());
        assert!(!memory("512", Some("Mi")).without_unit());
        // The flag does not take part in equality.
        assert_eq!(memory("1024", None), memory("1", Some("Ki")));
    }

    #[test]
    fn memory_must_be_whole_bytes() {
        assert_eq!(parse_memory("1.5", None), Err(malformed(QuantityKind::Memory, MalformedReason::FractionalBytes)));
        assert_eq!(
            parse_memory("0.0001", Some("k")),
            Err(malformed(QuantityKind::Memory, MalformedReason::FractionalBytes))
        );
        assert_eq!(
            parse_memory("0.3", Some("Ki")),
            Err(malformed(QuantityKind::Memory, MalformedReason::FractionalBytes))
        );
    }

    #[test]
    fn memory_must_be_positive() {
        for (value, unit) in [("0", Some("Gi")), ("-1", Some("Gi")), ("0", None), ("-0.0", None)] {
            assert_eq!(parse_memory(value, unit), Err(UnitError::NonPositive { expected: QuantityKind::Memory }));
        }
    }

    #[test]
    fn memory_overflow() {
        assert_eq!(memory("15", Some("Ei")).bytes(), 15 << 60);
        assert_eq!(parse_memory("16", Some("Ei")), Err(malformed(QuantityKind::Memory, MalformedReason::TooLarge)));
        assert_eq!(parse_memory("1e30", None), Err(malformed(QuantityKind::Memory, MalformedReason::TooLarge)));
        // Significand times the unit overflows u128 before the exponent is applied.
        assert_eq!(
            parse_memory("99999999999999999999999999999999999999", Some("Ei")),
            Err(malformed(QuantityKind::Memory, MalformedReason::TooLarge))
        );
    }

    #[test]
    fn memory_m_is_a_wrong_unit() {
        let error = parse_memory("512", Some("m"));
        assert_eq!(
            error,
            Err(UnitError::WrongUnit {
                unit: "m".to_string(),
                expected: QuantityKind::Memory,
                meant_for: QuantityKind::Cpu
            })
        );
        if let Err(error) = error {
            assert!(error.help().contains("512Mi"), "{}", error.help());
            assert!(error.help().contains("minutes"), "{}", error.help());
        }
    }

    #[test]
    fn memory_suggestions() {
        let unknown = |unit: &str, suggestion| {
            Err(UnitError::UnknownUnit { unit: unit.to_string(), expected: QuantityKind::Memory, suggestion })
        };
        assert_eq!(parse_memory("4", Some("GB")), unknown("GB", Some("Gi")));
        assert_eq!(parse_memory("4", Some("gi")), unknown("gi", Some("Gi")));
        assert_eq!(parse_memory("4", Some("GiB")), unknown("GiB", Some("Gi")));
        assert_eq!(parse_memory("4", Some("g")), unknown("g", Some("Gi")));
        assert_eq!(parse_memory("512", Some("mb")), unknown("mb", Some("Mi")));
        assert_eq!(parse_memory("512", Some("MB")), unknown("MB", Some("Mi")));
        assert_eq!(parse_memory("512", Some("mi")), unknown("mi", Some("Mi")));
        assert_eq!(parse_memory("512", Some("K")), unknown("K", Some("Ki")));
        assert_eq!(parse_memory("512", Some("KB")), unknown("KB", Some("Ki")));
        assert_eq!(parse_memory("1", Some("TB")), unknown("TB", Some("Ti")));
        assert_eq!(parse_memory("512", Some("bytes")), unknown("bytes", None));
    }

    #[test]
    fn memory_wrong_units() {
        let wrong = |unit: &str, meant_for| {
            Err(UnitError::WrongUnit { unit: unit.to_string(), expected: QuantityKind::Memory, meant_for })
        };
        assert_eq!(parse_memory("1", Some("h")), wrong("h", QuantityKind::Duration));
        assert_eq!(parse_memory("1", Some("s")), wrong("s", QuantityKind::Duration));
        assert_eq!(parse_memory("1", Some("d")), wrong("d", QuantityKind::Duration));
        assert_eq!(parse_memory("1", Some("hours")), wrong("hours", QuantityKind::Duration));
        assert_eq!(parse_memory("1", Some("ms")), wrong("ms", QuantityKind::Duration));
        assert_eq!(
            parse_memory("1", Some("Gi512Mi")),
            Err(malformed(QuantityKind::Memory, MalformedReason::UnitsCombined { unit: "Gi512Mi".to_string() }))
        );
    }

    #[test]
    fn memory_canonical_strings_round_trip() {
        for (value, unit, canonical) in [
            ("32", Some("Gi"), "32Gi"),
            ("512", Some("Mi"), "512Mi"),
            ("1024", Some("Mi"), "1Gi"),
            ("1.5", Some("Gi"), "1536Mi"),
            ("1000", Some("Mi"), "1000Mi"),
            ("1", Some("G"), "1G"),
            ("4096", Some("M"), "4096M"),
            ("1000", Some("M"), "1G"),
            ("1e3", None, "1k"),
            ("123", None, "123"),
            ("2048", None, "2Ki"),
            ("15", Some("Ei"), "15Ei"),
            ("18446744073709551615", None, "18446744073709551615"),
        ] {
            let parsed = memory(value, unit);
            assert_eq!(parsed.to_k8s(), canonical, "{value}{unit:?}");
            assert_eq!(parsed.to_string(), canonical);
            let (again_value, again_unit) = split_literal(canonical);
            assert_eq!(memory(again_value, again_unit).bytes(), parsed.bytes());
        }
    }

    #[test]
    fn quantities_compare_as_amounts() {
        assert!(memory("1", Some("Gi")) > memory("1000", Some("Mi")));
        assert!(memory("1", Some("G")) < memory("1", Some("Gi")));
        assert!(parse_cpu("500", Some("m")).ok() < parse_cpu("1", None).ok());
        assert_eq!(parse_cpu("0.5", None), parse_cpu("500", Some("m")));
        assert!(parse_duration("90", Some("m")).ok() > parse_duration("1", Some("h")).ok());
        assert_eq!(parse_duration("1", Some("h30m")), parse_duration("90", Some("m")));
    }

    // ---- GPU ----------------------------------------------------------------------------------

    #[test]
    fn gpu_counts() {
        assert_eq!(parse_gpu("0", None), Ok(0));
        assert_eq!(parse_gpu("-0", None), Ok(0));
        assert_eq!(parse_gpu("1", None), Ok(1));
        assert_eq!(parse_gpu("8", Some("")), Ok(8));
        assert_eq!(parse_gpu("1e1", None), Ok(10));
        assert_eq!(parse_gpu("2.0", None), Ok(2));
        assert_eq!(parse_gpu("4294967295", None), Ok(u32::MAX));
        assert_eq!(parse_gpu("4294967296", None), Err(malformed(QuantityKind::Gpu, MalformedReason::TooLarge)));
        assert_eq!(parse_gpu("0.5", None), Err(UnitError::NotWhole { expected: QuantityKind::Gpu }));
        assert_eq!(parse_gpu("-1", None), Err(UnitError::Negative { expected: QuantityKind::Gpu }));
        assert_eq!(parse_gpu("-0.5", None), Err(UnitError::Negative { expected: QuantityKind::Gpu }));
    }

    #[test]
    fn gpu_takes_no_unit() {
        assert_eq!(
            parse_gpu("1", Some("Gi")),
            Err(UnitError::WrongUnit {
                unit: "Gi".to_string(),
                expected: QuantityKind::Gpu,
                meant_for: QuantityKind::Memory
            })
        );
        assert_eq!(
            parse_gpu("1", Some("m")),
            Err(UnitError::WrongUnit {
                unit: "m".to_string(),
                expected: QuantityKind::Gpu,
                meant_for: QuantityKind::Cpu
            })
        );
        let unknown = parse_gpu("2", Some("gpus"));
        assert_eq!(
            unknown,
            Err(UnitError::UnknownUnit { unit: "gpus".to_string(), expected: QuantityKind::Gpu, suggestion: None })
        );
        if let Err(error) = unknown {
            assert_eq!(error.to_string(), "a GPU count takes no unit, found `gpus`");
            assert!(error.help().contains("plain whole number"));
        }
        // A likely misspelling of another kind's unit is still not a GPU unit.
        assert_eq!(
            parse_gpu("1", Some("GB")),
            Err(UnitError::UnknownUnit { unit: "GB".to_string(), expected: QuantityKind::Gpu, suggestion: None })
        );
    }

    // ---- durations ----------------------------------------------------------------------------

    #[test]
    fn simple_durations() {
        assert_eq!(seconds("30", "s"), 30);
        assert_eq!(seconds("10", "m"), 600);
        assert_eq!(seconds("2", "h"), 7200);
        assert_eq!(seconds("1", "d"), 86_400);
        assert_eq!(seconds("1.5", "h"), 5400);
        assert_eq!(seconds("1.5", "m"), 90);
        assert_eq!(seconds("1e2", "s"), 100);
    }

    #[test]
    fn compound_durations() {
        assert_eq!(seconds("1", "h30m"), 5400);
        assert_eq!(seconds("2", "m30s"), 150);
        assert_eq!(seconds("1", "d2h3m4s"), 86_400 + 7200 + 180 + 4);
        assert_eq!(seconds("1", "h0m"), 3600);
        assert_eq!(seconds("0", "h30m"), 1800);
        assert_eq!(seconds("1", "d05s"), 86_405);
        assert_eq!(seconds("1.5", "h30m"), 7200);
    }

    #[test]
    fn compound_duration_errors() {
        let expected = QuantityKind::Duration;
        assert_eq!(
            parse_duration("30", Some("m1h")),
            Err(malformed(expected, MalformedReason::DurationUnitsOutOfOrder { unit: "h".to_string() }))
        );
        assert_eq!(
            parse_duration("1", Some("h2h")),
            Err(malformed(expected, MalformedReason::DurationUnitsOutOfOrder { unit: "h".to_string() }))
        );
        assert_eq!(
            parse_duration("1", Some("h30")),
            Err(malformed(expected, MalformedReason::NumberWithoutUnit { number: "30".to_string() }))
        );
        assert_eq!(
            parse_duration("1", Some("h30min")),
            Err(UnitError::UnknownUnit { unit: "min".to_string(), expected, suggestion: Some("m") })
        );
        assert_eq!(parse_duration("1", Some("s500ms")), Err(UnitError::SubSecondUnit { unit: "ms".to_string() }));
        assert_eq!(
            parse_duration("1", Some("h30Gi")),
            Err(UnitError::WrongUnit { unit: "Gi".to_string(), expected, meant_for: QuantityKind::Memory })
        );
        assert_eq!(
            parse_duration("1", Some("h-")),
            Err(UnitError::UnknownUnit { unit: "h-".to_string(), expected, suggestion: None })
        );
        assert_eq!(
            parse_duration("1", Some("h99999999999999999999999999999999999999999m")),
            Err(malformed(expected, MalformedReason::TooLarge))
        );
    }

    #[test]
    fn duration_needs_a_unit() {
        let expected = QuantityKind::Duration;
        assert_eq!(parse_duration("30", None), Err(UnitError::MissingUnit { expected }));
        assert_eq!(parse_duration("30", Some("")), Err(UnitError::MissingUnit { expected }));
        if let Err(error) = parse_duration("30", None) {
            assert!(error.help().contains("30s"), "{}", error.help());
        }
    }

    #[test]
    fn sub_second_durations_are_rejected() {
        for unit in ["ms", "us", "ns", "MS"] {
            let error = parse_duration("500", Some(unit));
            assert_eq!(error, Err(UnitError::SubSecondUnit { unit: unit.to_string() }));
            if let Err(error) = error {
                assert!(error.help().contains("whole seconds"));
            }
        }
        assert_eq!(
            parse_duration("1.5", Some("s")),
            Err(malformed(QuantityKind::Duration, MalformedReason::FractionalSeconds))
        );
        assert_eq!(
            parse_duration("0.001", Some("m")),
            Err(malformed(QuantityKind::Duration, MalformedReason::FractionalSeconds))
        );
    }

    #[test]
    fn duration_must_be_positive() {
        let expected = QuantityKind::Duration;
        for (value, unit) in [("0", "s"), ("-1", "h"), ("0", "h0m"), ("-0", "h30m"), ("-1.5", "s")] {
            assert_eq!(parse_duration(value, Some(unit)), Err(UnitError::NonPositive { expected }), "{value}{unit}");
        }
    }

    #[test]
    fn duration_unit_suggestions_and_wrong_units() {
        let expected = QuantityKind::Duration;
        let unknown =
            |unit: &str, suggestion| Err(UnitError::UnknownUnit { unit: unit.to_string(), expected, suggestion });
        assert_eq!(parse_duration("5", Some("min")), unknown("min", Some("m")));
        assert_eq!(parse_duration("5", Some("minutes")), unknown("minutes", Some("m")));
        assert_eq!(parse_duration("2", Some("hr")), unknown("hr", Some("h")));
        assert_eq!(parse_duration("2", Some("hours")), unknown("hours", Some("h")));
        assert_eq!(parse_duration("2", Some("H")), unknown("H", Some("h")));
        assert_eq!(parse_duration("30", Some("sec")), unknown("sec", Some("s")));
        assert_eq!(parse_duration("30", Some("S")), unknown("S", Some("s")));
        assert_eq!(parse_duration("1", Some("days")), unknown("days", Some("d")));
        assert_eq!(parse_duration("1", Some("w")), unknown("w", None));
        assert_eq!(
            parse_duration("4", Some("Gi")),
            Err(UnitError::WrongUnit { unit: "Gi".to_string(), expected, meant_for: QuantityKind::Memory })
        );
        let capital_m = parse_duration("5", Some("M"));
        assert_eq!(
            capital_m,
            Err(UnitError::WrongUnit { unit: "M".to_string(), expected, meant_for: QuantityKind::Memory })
        );
        if let Err(error) = capital_m {
            assert_eq!(error.suggested_unit(), Some("m"));
            assert!(error.help().contains("minutes"));
        }
        assert_eq!(
            parse_duration("5", Some("millicores")),
            Err(UnitError::WrongUnit { unit: "millicores".to_string(), expected, meant_for: QuantityKind::Cpu })
        );
    }

    #[test]
    fn m_is_valid_for_both_cpu_and_duration() {
        assert_eq!(cpu("5", Some("m")), 5);
        assert_eq!(seconds("5", "m"), 300);
    }

    #[test]
    fn duration_display_round_trips() {
        for (value, unit, text, go_text) in [
            ("1", "h30m", "1h30m", "1h30m"),
            ("90", "m", "1h30m", "1h30m"),
            ("2", "m30s", "2m30s", "2m30s"),
            ("86400", "s", "1d", "24h"),
            ("1", "d1h1m1s", "1d1h1m1s", "25h1m1s"),
            ("59", "s", "59s", "59s"),
            ("1.5", "d", "1d12h", "36h"),
        ] {
            let parsed = match parse_duration(value, Some(unit)) {
                Ok(parsed) => parsed,
                Err(error) => panic!("{value}{unit}: {error}"),
            };
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.to_go_duration_string(), go_text);
            // The parser keeps everything after the first number as the unit text.
            let (again_value, again_unit) = split_literal(text);
            assert_eq!(parse_duration(again_value, again_unit), Ok(parsed));
        }
        assert_eq!(Duration::from_seconds(u64::MAX).map(|duration| duration.seconds()), Some(u64::MAX));
        assert_eq!(Duration::from_seconds(0), None);
    }

    #[test]
    fn duration_overflow() {
        assert_eq!(seconds("213503982334601", "d"), 213_503_982_334_601 * 86_400);
        assert_eq!(
            parse_duration("213503982334602", Some("d")),
            Err(malformed(QuantityKind::Duration, MalformedReason::TooLarge))
        );
        assert_eq!(
            parse_duration("213503982334601", Some("d99999999h")),
            Err(malformed(QuantityKind::Duration, MalformedReason::TooLarge))
        );
    }

    // ---- messages -----------------------------------------------------------------------------

    #[test]
    fn constructors_reject_zero() {
        assert_eq!(Cpu::from_millicores(0), None);
        assert_eq!(Memory::from_bytes(0), None);
        assert_eq!(Cpu::from_millicores(250).map(Cpu::to_k8s), Some("250m".to_string()));
        assert_eq!(Memory::from_bytes(1 << 30).map(Memory::to_k8s), Some("1Gi".to_string()));
        assert_eq!(
            Duration::from_seconds(60).map(|duration| duration.to_std()),
            Some(std::time::Duration::from_secs(60))
        );
    }

    #[test]
    fn human_names() {
        assert_eq!(QuantityKind::Cpu.to_string(), "CPU");
        assert_eq!(QuantityKind::Memory.to_string(), "memory");
        assert_eq!(QuantityKind::Gpu.to_string(), "GPU count");
        assert_eq!(QuantityKind::Duration.to_string(), "duration");
    }

    #[test]
    fn messages_and_help_are_lowercase_sentences_without_final_period() {
        let errors = [
            error_of(parse_cpu("x", None)),
            error_of(parse_cpu("0.0001", None)),
            error_of(parse_cpu("1.5", Some("m"))),
            error_of(parse_cpu("4", Some("Gi"))),
            error_of(parse_cpu("4", Some("cores"))),
            error_of(parse_cpu("0", None)),
            error_of(parse_cpu("99999999999999999999", None)),
            error_of(parse_memory("1.5", None)),
            error_of(parse_memory("1", Some("GB"))),
            error_of(parse_memory("1", Some("m"))),
            error_of(parse_memory("1", Some("Gi5Mi"))),
            error_of(parse_memory("1", Some("h"))),
            error_of(parse_gpu("0.5", None)),
            error_of(parse_gpu("-1", None)),
            error_of(parse_gpu("1", Some("x"))),
            error_of(parse_duration("1", None)),
            error_of(parse_duration("1", Some("ms"))),
            error_of(parse_duration("1", Some("h30"))),
            error_of(parse_duration("1", Some("m1h"))),
            error_of(parse_duration("1.5", Some("s"))),
            error_of(parse_duration("0", Some("s"))),
            error_of(parse_duration("1", Some("M"))),
        ];
        for error in errors {
            for text in [error.to_string(), error.help()] {
                assert!(!text.is_empty());
                assert!(!text.ends_with('.'), "{text}");
                let starts_with_capital = text.starts_with(|first: char| first.is_uppercase());
                let starts_with_acronym = text.starts_with("CPU") || text.starts_with("GPU");
                assert!(!starts_with_capital || starts_with_acronym, "{text}");
            }
        }
        if let Err(error) = parse_memory("4", Some("GB")) {
            assert_eq!(error.to_string(), "unknown memory unit `GB`");
            assert!(error.help().starts_with("did you mean `Gi`? write memory with a unit such as 512Mi or 4Gi"));
            assert_eq!(error.expected(), QuantityKind::Memory);
        }
        if let Err(error) = parse_cpu("4", Some("Gi")) {
            assert_eq!(error.to_string(), "`Gi` is a memory unit, not a CPU unit");
            assert!(error.help().starts_with("`Gi` is for memory; write CPU as cores"));
        }
    }
}
