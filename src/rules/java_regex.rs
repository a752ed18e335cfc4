//! Java regular expressions, which DQX's `regex_match` runs (Spark's `rlike`), as Rust `regex`
//! patterns with the same meaning. Where Java and Rust read the same text differently the
//! pattern is rewritten; what Rust cannot express is refused at load, naming the construct.
//!
//! | Java (no flags) | meaning kept by |
//! |---|---|
//! | `$`, `\Z`: end, or before a final line terminator | `(?:\r\n\|[\n\r\x85\u2028\u2029])?\z` |
//! | `.`: any character but a line terminator | `[^\n\r\x85\u2028\u2029]` |
//! | `\d \w \s \b` and `\p{Alpha}`-style POSIX classes: ASCII only | explicit ASCII ranges |
//! | `\h \v \R`, `\e \a \cX \0oct \uXXXX` | the characters they stand for |
//! | `\Q...\E` | the text, escaped |
//! | `\<`, `\>`: the characters `<`, `>` (word boundaries in Rust) | `<`, `>` |
//! | `(?s)`, `(?m)`, `(?d)`, `(?U)` | the rewritten `.`, `$`, `^` and classes (from the flag on) |
//!
//! Refused: look-around, atomic groups, possessive quantifiers, back-references, `\G`, Unicode
//! blocks (`\p{InGreek}`) and `java*` classes. `(?i)` folds case as Rust does (Unicode), where
//! Java without `(?u)` folds ASCII only.

/// Java's line terminators (without `UNIX_LINES`).
const TERMINATORS: &str = r"\n\r\x{85}\x{2028}\x{2029}";
const SPACE: &str = r"\t\n\x0B\x0C\r ";
const WORD: &str = "a-zA-Z_0-9";
const HORIZONTAL: &str = r" \t\xA0\x{1680}\x{180E}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}";
const VERTICAL: &str = r"\n\x0B\x0C\r\x{85}\x{2028}\x{2029}";

/// Inline flags that change how `.`, `^`, `$` and the classes read.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    dotall: bool,
    multiline: bool,
    unix_lines: bool,
    unicode_classes: bool,
}

/// The Rust pattern meaning what `java` means to `java.util.regex`.
pub fn translate(java: &str) -> Result<String, String> {
    let chars: Vec<char> = java.chars().collect();
    let (mut out, mut flags, mut class_depth, mut i) = (String::with_capacity(java.len() + 16), Flags::default(), 0usize, 0);
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '\\' => i = escape(&chars, i, class_depth > 0, flags, &mut out)?,
            '[' => {
                class_depth += 1;
                out.push('[');
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            _ if class_depth > 0 => out.push(c),
            '.' if flags.dotall => out.push_str("(?s:.)"),
            '.' if flags.unix_lines => out.push_str(r"[^\n]"),
            '.' => out.push_str(&format!("[^{TERMINATORS}]")),
            '$' => out.push_str(&end_of_input(flags)),
            '^' if flags.multiline => out.push_str("(?mR:^)"),
            '(' if chars.get(i) == Some(&'?') => i = group(&chars, i + 1, &mut flags, &mut out)?,
            '*' | '+' | '?' | '}' => {
                out.push(c);
                if chars.get(i) == Some(&'+') {
                    return Err(format!("possessive quantifier `{c}+` (Java only) is not supported"));
                }
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// `$` (and `\Z`): the end of the input, or just before a final line terminator.
fn end_of_input(flags: Flags) -> String {
    match (flags.multiline, flags.unix_lines) {
        (true, _) => "(?mR:$)".to_owned(),
        (false, true) => r"(?:\n?\z)".to_owned(),
        (false, false) => format!(r"(?:(?:\r\n|[{TERMINATORS}])?\z)"),
    }
}

/// After `(?`: a group kind Rust shares, or inline flags; look-around and atomic groups refused.
fn group(chars: &[char], mut i: usize, flags: &mut Flags, out: &mut String) -> Result<usize, String> {
    let rest: String = chars[i..].iter().take(3).collect();
    if rest.starts_with('=') || rest.starts_with('!') || rest.starts_with("<=") || rest.starts_with("<!") {
        return Err("look-around `(?=`, `(?!`, `(?<=`, `(?<!` is not supported".to_owned());
    }
    if rest.starts_with('>') {
        return Err("atomic group `(?>` (Java only) is not supported".to_owned());
    }
    if rest.starts_with(':') || rest.starts_with('<') {
        out.push_str("(?");
        return Ok(i);
    }
    // Inline flags: `(?idmsux-idmsux)` or `(?idmsux-idmsux:`.
    let (mut kept, mut on) = (String::new(), true);
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '-' => {
                on = false;
                kept.push('-');
            }
            'i' | 'x' => kept.push(c),
            's' => flags.dotall = on,
            'm' => flags.multiline = on,
            'd' => flags.unix_lines = on,
            'U' => flags.unicode_classes = on,
            'u' => {}
            ')' | ':' => {
                let kept = kept.trim_end_matches('-');
                match (c, kept.is_empty()) {
                    (')', true) => {}
                    (':', true) => out.push_str("(?:"),
                    _ => out.push_str(&format!("(?{kept}{c}")),
                }
                return Ok(i);
            }
            other => return Err(format!("inline flag `{other}` is not a Java flag")),
        }
    }
    Err("unterminated `(?` group".to_owned())
}

/// After a backslash at `chars[i - 1]`: the escape as Rust reads it, inside a class or not.
fn escape(chars: &[char], mut i: usize, in_class: bool, flags: Flags, out: &mut String) -> Result<usize, String> {
    let Some(&c) = chars.get(i) else { return Err("pattern ends with a backslash".to_owned()) };
    i += 1;
    let class = |members: &str, negated: bool| match (in_class, negated) {
        (true, false) => members.to_owned(),
        (_, true) => format!("[^{members}]"),
        (false, false) => format!("[{members}]"),
    };
    let text = match c {
        'd' | 'D' | 'w' | 'W' | 's' | 'S' if flags.unicode_classes => format!(r"\{c}"),
        'd' => class("0-9", false),
        'D' => class("0-9", true),
        'w' => class(WORD, false),
        'W' => class(WORD, true),
        's' => class(SPACE, false),
        'S' => class(SPACE, true),
        'h' => class(HORIZONTAL, false),
        'H' => class(HORIZONTAL, true),
        'v' => class(VERTICAL, false),
        'V' => class(VERTICAL, true),
        'R' if !in_class => format!(r"(?:\r\n|[{VERTICAL}])"),
        'b' | 'B' if !in_class && flags.unicode_classes => format!(r"\{c}"),
        'b' | 'B' if !in_class => format!(r"(?-u:\{c})"),
        'A' | 'z' if !in_class => format!(r"\{c}"),
        'Z' if !in_class => end_of_input(Flags { multiline: false, ..flags }),
        'G' => return Err(r"`\G` (end of the previous match) is not supported".to_owned()),
        '1'..='9' | 'k' => return Err("back-references are not supported".to_owned()),
        'Q' => {
            let end = (i..chars.len().saturating_sub(1)).find(|&j| chars[j] == '\\' && chars[j + 1] == 'E');
            let quoted: String = chars[i..end.unwrap_or(chars.len())].iter().collect();
            i = end.map_or(chars.len(), |j| j + 2);
            regex::escape(&quoted)
        }
        'E' => String::new(),
        'p' | 'P' => {
            let (name, next) = property_name(chars, i)?;
            i = next;
            property(&name, c == 'P', in_class)?
        }
        'u' => {
            let hex: String = chars.get(i..i + 4).ok_or("`\\u` needs four hex digits")?.iter().collect();
            i += 4;
            let code = u32::from_str_radix(&hex, 16).map_err(|_| format!("`\\u{hex}` is not a code point"))?;
            format!(r"\x{{{code:X}}}")
        }
        '0' => {
            let digits: String = chars[i..].iter().take(3).take_while(|d| d.is_digit(8)).collect();
            // Java reads at most three octal digits, and the third only while the value stays <= 0377.
            let digits = if digits.len() == 3 && digits.starts_with(|d: char| d > '3') { digits[..2].to_owned() } else { digits };
            let code = u32::from_str_radix(&digits, 8).map_err(|_| "`\\0` needs octal digits".to_owned())?;
            i += digits.len();
            format!(r"\x{{{code:X}}}")
        }
        'c' => {
            let control = chars.get(i).ok_or("`\\c` needs a letter")?;
            i += 1;
            format!(r"\x{{{:X}}}", u32::from(*control) ^ 64)
        }
        'e' => r"\x{1B}".to_owned(),
        'a' => r"\x{07}".to_owned(),
        'f' => r"\x{0C}".to_owned(),
        // Word boundaries in Rust, the characters themselves in Java.
        '<' | '>' => c.to_string(),
        other => format!(r"\{other}"),
    };
    out.push_str(&text);
    Ok(i)
}

/// The text of `\p{Name}` or `\pL` starting at `chars[i]`, and where it ends.
fn property_name(chars: &[char], i: usize) -> Result<(String, usize), String> {
    match chars.get(i) {
        Some('{') => {
            let end = (i + 1..chars.len()).find(|&j| chars[j] == '}').ok_or("unterminated `\\p{`")?;
            Ok((chars[i + 1..end].iter().collect(), end + 1))
        }
        Some(&letter) => Ok((letter.to_string(), i + 1)),
        None => Err("`\\p` needs a property".to_owned()),
    }
}

/// `\p{name}` (`\P{name}` when `negated`): Java's POSIX classes are US-ASCII; Unicode categories
/// and scripts keep their meaning; blocks and `java*` classes have no Rust equivalent.
fn property(name: &str, negated: bool, in_class: bool) -> Result<String, String> {
    let posix = match name {
        "Lower" => Some("a-z"),
        "Upper" => Some("A-Z"),
        "ASCII" => Some(r"\x00-\x7F"),
        "Alpha" => Some("a-zA-Z"),
        "Digit" => Some("0-9"),
        "Alnum" => Some("a-zA-Z0-9"),
        "Punct" => Some(r"!-/:-@\[-`{-~"),
        "Graph" => Some("!-~"),
        "Print" => Some(" -~"),
        "Blank" => Some(r" \t"),
        "Cntrl" => Some(r"\x00-\x1F\x7F"),
        "XDigit" => Some("0-9a-fA-F"),
        "Space" => Some(SPACE),
        _ => None,
    };
    if let Some(members) = posix {
        return Ok(match (in_class, negated) {
            (true, false) => members.to_owned(),
            (_, true) => format!("[^{members}]"),
            (false, false) => format!("[{members}]"),
        });
    }
    if name.starts_with("In") || name.starts_with("java") {
        return Err(format!("`\\p{{{name}}}` (a Unicode block or a java.lang.Character class) is not supported"));
    }
    // `IsLatin`, `IsL`, `script=Latin`, `general_category=Lu`: Rust names them without the prefix.
    let name = name.strip_prefix("Is").unwrap_or(name);
    let name = name.split_once('=').map_or(name, |(_, value)| value);
    let escaped = format!(r"\{}{{{name}}}", if negated { 'P' } else { 'p' });
    regex::Regex::new(&escaped).map_err(|_| format!("`\\p{{{name}}}` is not a Unicode property Rust knows"))?;
    Ok(escaped)
}

#[cfg(test)]
mod tests {
    use super::translate;

    fn matches(java: &str, text: &str) -> bool {
        regex::Regex::new(&translate(java).unwrap()).unwrap().is_match(text)
    }

    #[test]
    fn dollar_matches_before_a_final_line_terminator() {
        assert!(matches("^ORD-[0-9]{6}$", "ORD-123456"));
        assert!(matches("^ORD-[0-9]{6}$", "ORD-123456\n"));
        assert!(matches("^ORD-[0-9]{6}$", "ORD-123456\r\n"));
        assert!(!matches("^ORD-[0-9]{6}$", "ORD-123456\n\n"));
        assert!(!matches("^ORD-[0-9]{6}$", "ORD-123456x"));
        assert!(matches(r"^a\Z", "a\u{2028}"));
        assert!(matches("(?m)^b$", "a\nb\nc"));
    }

    #[test]
    fn predefined_classes_are_ascii() {
        assert!(matches(r"^\w+$", "abc_9") && !matches(r"^\w+$", "Ñ") && !matches(r"^\w+$", "日本語"));
        assert!(!matches(r"\s", "\u{a0}") && matches(r"\s", "\t"));
        assert!(!matches(r"^\d+$", "٣٤") && !matches(r"^\d+$", "１２"));
        assert!(matches(r"^[\w-]+$", "a-b") && !matches(r"^[\w-]+$", "é-b"));
        assert!(matches(r"^\p{Alpha}+$", "abc") && !matches(r"^\p{Alpha}+$", "äbc"));
        assert!(matches(r"^\p{L}+$", "äbc"), "Unicode categories stay Unicode");
        assert!(matches(r"(?U)^\w+$", "Ñ"), "UNICODE_CHARACTER_CLASS");
    }

    #[test]
    fn dot_stops_at_every_line_terminator() {
        assert!(!matches("^a.b$", "a\rb") && !matches("^a.b$", "a\u{85}b") && matches("^a.b$", "a-b"));
        assert!(matches("(?s)^a.b$", "a\rb"));
    }

    #[test]
    fn escapes_mean_what_they_mean_in_java() {
        assert!(matches(r"^a\Q.*\E$", "a.*") && !matches(r"^a\Q.*\E$", "abc"));
        assert!(matches(r"^\<tag\>$", "<tag>"));
        assert!(matches(r"^\u00e9$", "é") && matches(r"^\0101$", "A") && matches(r"^\cI$", "\t") && matches(r"^\e$", "\u{1b}"));
        assert!(matches(r"^\h$", "\u{a0}") && !matches(r"^\h$", "\n"));
    }

    #[test]
    fn what_rust_cannot_express_is_refused_with_its_name() {
        for (pattern, named) in [
            ("a(?=b)", "look-around"),
            ("(?<!a)b", "look-around"),
            ("(?>a)", "atomic"),
            ("a++", "possessive"),
            (r"(a)\1", "back-references"),
            (r"\G", r"\G"),
            (r"\p{InGreek}", "block"),
        ] {
            let error = translate(pattern).unwrap_err();
            assert!(error.contains(named), "{pattern}: {error}");
        }
    }

    /// Through the whole engine (the pattern travels inside a SQL string literal to DataFusion's
    /// `regexp_like`): verdicts as DQX gives them.
    #[test]
    fn regex_match_rules_use_the_java_meaning() {
        use std::sync::Arc;

        use arrow::array::{AsArray, RecordBatch, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};

        let rules = "- criticality: error\n  check: {function: regex_match, arguments: {column: order_id, regex: '^ORD-\\d{6}$'}}\n";
        let schema = Arc::new(Schema::new(vec![Field::new("order_id", DataType::Utf8, true)]));
        let values =
            StringArray::from(vec![Some("ORD-123456"), Some("ORD-123456\n"), Some("ORD-123456\n\n"), Some("ORD-١٢٣٤٥٦"), Some("ORD-123456\r"), None]);
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap();
        let engine = crate::rules::RuleSet::parse("regex.yml", rules).unwrap().compile(schema).unwrap();
        let run = crate::rules::RunInfo { run_time_micros: 0, run_id: "r".into(), rule_set_fingerprint: "fp".into() };
        let (checked, _) = engine.apply(&batch, &run).unwrap();
        let flags: Vec<&str> = checked.column_by_name("flag_check").unwrap().as_string::<i32>().iter().map(Option::unwrap_or_default).collect();
        assert_eq!(flags, ["PASS", "PASS", "FAIL", "FAIL", "PASS", "PASS"]);
    }
}
