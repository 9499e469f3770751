//! Differential test: `forkmon::filter::Pattern` against the real `lua5.4`.
//!
//! Generates random (pattern, subject, init) cases with a seeded xorshift
//! PRNG plus a list of hand-written tricky cases, runs them all through
//! `string.find` in `lua5.4` (a few thousand cases per process) and
//! compares:
//!
//! * `Pattern::compile_lazy(p).find(s, init)` with Lua's answer, exactly:
//!   match / no match, the match range, and error / no error with Lua's
//!   error text;
//! * the eager rule of `Pattern::compile` (see `src/filter/mod.rs`): when
//!   Lua raises on a case, `compile(p)` must fail with the same reason (or
//!   Lua's reason is "pattern too complex"); when `compile(p)` succeeds its
//!   `find` must give Lua's answer.
//!
//! `lua5.4` must be on `PATH` (or set `FORKMON_LUA=/path/to/lua5.4`); if it
//! is missing the test fails, unless `FORKMON_SKIP_LUA=1`. Environment:
//! `FORKMON_DIFF_SEED` (u64) and `FORKMON_DIFF_CASES` (number of random
//! cases, default 40000) change the generated cases.

use forkmon::filter::{FilterError, Pattern};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::process::Command;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const PAT_BYTES: &[u8] = b"%%%%[[]]^^--(())..//$$**++??ab12fabf12acdglpsuwxzACDGLPSUWXZ";
const ODD_BYTES: &[u8] = b"\0\xff\xe9;= \t";
const SUBJ_BYTES: &[u8] = b"aaabbb1122//..()[]%-^$ xyzAB_=cf\t\0\xff\xe9";
const TOKENS: &[&str] = &[
    "a", "b", "1", "/", ".", "%a", "%d", "%w", "%s", "%p", "%A", "%z", "%Z", "%.", "%%", "%]",
    "[ab]", "[^a]", "[a-z]", "[]]", "[^]]", "[%a-]", "[a-]", "[", "]", "(", ")", "()", "%1", "%2",
    "%0", "%b()", "%bab", "%f[%w]", "%f[^a]", "%f[%z]", "*", "+", "-", "?", "$", "^", "%", "%f",
    "%b", "x", "[%]]", "[^%d/]",
];

const TRICKY_PATTERNS: &[&str] = &[
    "a-b",
    "[]]",
    "[^]]",
    "$",
    "x*$",
    "%z",
    "%Z",
    "[%z]",
    "%[",
    "%%%(",
    "(%a+)=%1",
    "",
    "[a-]",
    "[%a-z]",
    "%f[%w]",
    "%f[%W]",
    "%bxy",
    "()",
    "(()",
    "%0",
    "[^",
    "%",
    "[a",
    "a%",
    "(",
    ")",
    ")(",
    "(a",
    "(a)%1",
    "(a%1)",
    "()%1",
    "%1",
    "%9",
    "(a)(b)%2",
    "%b",
    "%bx",
    "%b()",
    "%f",
    "%fa",
    "%f[a",
    "%f[]]",
    "[]",
    "[^]",
    "^",
    "^$",
    "$$",
    "^^",
    "a$b",
    "a^b",
    "%$$",
    "[%]]",
    "[%]",
    "[]-a]",
    "[a-%]]",
    "[^%a]+",
    ".-",
    ".-$",
    "a?a?a?",
    "a**",
    "a--",
    "-",
    "*",
    "+",
    "?",
    "((a)(b))%2%1",
    "(()a)%1",
    "%f[%a]%d",
    "[a-c-e]",
    "[%w_]+%.lua$",
    "%.lua$",
    "%.nelua$",
    "^/home/",
    "/%.git/",
    "%bab",
    "%baa",
    "[\\]",
    "a[",
    "[[]",
    "%g+",
    "\u{e9}",
    "[\u{e9}]",
];

const TRICKY_SUBJECTS: &[&str] = &[
    "",
    "a",
    "b",
    "aaab",
    "]",
    "x]y",
    "$",
    "xx",
    "a\0b",
    "%(",
    "%%(",
    "x=x",
    "ab=ab",
    "a-z",
    "hello world",
    "xaby",
    "xy",
    "(a)",
    "a(b)c",
    "a",
    "ab",
    "abab",
    "aab",
    "a$b",
    "^a",
    "a]b",
    "-",
    "a.lua",
    "/home/user/x.nelua",
    "/a/.git/b",
    "ab\u{e9}",
    "[",
    "\\",
    "aaaaaaaa",
    "1a2b",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Ok(usize, usize), // Lua's 1-based start, end
    Nil,
    Err(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Ok(a, b) => write!(f, "ok {a} {b}"),
            Answer::Nil => write!(f, "nil"),
            Answer::Err(m) => write!(f, "err {m}"),
        }
    }
}

fn ours(r: Result<Option<(usize, usize)>, FilterError>) -> Answer {
    match r {
        Ok(Some((a, b))) => Answer::Ok(a + 1, b),
        Ok(None) => Answer::Nil,
        Err(e) => Answer::Err(e.reason().to_string()),
    }
}

struct Case {
    pat: Vec<u8>,
    subj: Vec<u8>,
    init: usize, // 0-based
}

fn gen_bytes(rng: &mut XorShift, max_len: usize, alphabet: &[u8]) -> Vec<u8> {
    let len = rng.below(max_len + 1);
    (0..len)
        .map(|_| {
            if rng.below(40) == 0 {
                *rng.pick(ODD_BYTES)
            } else {
                *rng.pick(alphabet)
            }
        })
        .collect()
}

fn gen_case(rng: &mut XorShift) -> Case {
    let pat = if rng.below(2) == 0 {
        gen_bytes(rng, 12, PAT_BYTES)
    } else {
        let mut p = Vec::new();
        for _ in 0..rng.below(7) {
            p.extend_from_slice(rng.pick(TOKENS).as_bytes());
        }
        p.truncate(16);
        p
    };
    let subj = gen_bytes(rng, 20, SUBJ_BYTES);
    let init = if rng.below(4) == 0 {
        rng.below(subj.len() + 2)
    } else {
        0
    };
    Case { pat, subj, init }
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "_".into();
    }
    b.iter().fold(String::new(), |mut s, c| {
        let _ = write!(s, "{c:02x}");
        s
    })
}

const LUA_SCRIPT: &str = r#"
local function unhex(h)
  if h == "_" then return "" end
  return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end))
end
local out = {}
for line in io.lines(arg[1]) do
  local ph, sh, ini = line:match("^(%S+) (%S+) (%d+)$")
  local p, s = unhex(ph), unhex(sh)
  local r = table.pack(pcall(string.find, s, p, tonumber(ini)))
  if not r[1] then
    local msg = tostring(r[2]):gsub("^[^\n]-:%d+: ", "")
    out[#out + 1] = "err " .. msg
  elseif r[2] == nil then
    out[#out + 1] = "nil"
  else
    out[#out + 1] = "ok " .. r[2] .. " " .. r[3]
  end
end
io.write(table.concat(out, "\n"), "\n")
"#;

fn run_lua(lua: &str, cases: &[Case], dir: &std::path::Path, batch: usize) -> Option<Vec<Answer>> {
    let script = dir.join("find.lua");
    std::fs::write(&script, LUA_SCRIPT).expect("write the Lua script");
    let input = dir.join(format!("cases{batch}.txt"));
    let mut text = String::new();
    for c in cases {
        let _ = writeln!(text, "{} {} {}", hex(&c.pat), hex(&c.subj), c.init + 1);
    }
    std::fs::write(&input, text).expect("write the cases");
    let out = match Command::new(lua).arg(&script).arg(&input).output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running {lua}: {e}"),
    };
    assert!(
        out.status.success(),
        "{lua} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answers: Vec<Answer> = stdout
        .lines()
        .map(|l| {
            if let Some(m) = l.strip_prefix("err ") {
                Answer::Err(m.to_string())
            } else if l == "nil" {
                Answer::Nil
            } else {
                let mut it = l
                    .split(' ')
                    .skip(1)
                    .map(|n| n.parse::<usize>().expect("a position from lua"));
                Answer::Ok(it.next().expect("start"), it.next().expect("end"))
            }
        })
        .collect();
    assert_eq!(answers.len(), cases.len(), "lua output lines");
    Some(answers)
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for p in TRICKY_PATTERNS {
        for s in TRICKY_SUBJECTS {
            cases.push(Case {
                pat: p.as_bytes().to_vec(),
                subj: s.as_bytes().to_vec(),
                init: 0,
            });
        }
    }
    // Depth and capture limits.
    let many_a = "a".repeat(260);
    for n in [198, 199, 200, 201, 250] {
        for s in ["", "b", &many_a[..150], &many_a[..]] {
            cases.push(Case {
                pat: "a?".repeat(n).into_bytes(),
                subj: s.as_bytes().to_vec(),
                init: 0,
            });
            cases.push(Case {
                pat: "a*".repeat(n).into_bytes(),
                subj: s.as_bytes().to_vec(),
                init: 0,
            });
        }
    }
    for n in [31, 32, 33] {
        for (p, s) in [
            ("(", "a"),
            ("()", "a"),
            ("(a)", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ] {
            cases.push(Case {
                pat: p.repeat(n).into_bytes(),
                subj: s.as_bytes().to_vec(),
                init: 0,
            });
        }
        let closed = format!("{}{}", "(".repeat(n), ")".repeat(n));
        cases.push(Case {
            pat: closed.into_bytes(),
            subj: b"x".to_vec(),
            init: 0,
        });
    }
    for p in [
        &"(a)".repeat(99)[..],
        &"(a)".repeat(100)[..],
        &"()".repeat(32)[..],
    ] {
        cases.push(Case {
            pat: p.as_bytes().to_vec(),
            subj: many_a.as_bytes().to_vec(),
            init: 0,
        });
    }
    let mut rng = XorShift(env_num("FORKMON_DIFF_SEED", 0x9e37_79b9_7f4a_7c15) | 1);
    for _ in 0..env_num("FORKMON_DIFF_CASES", 40_000) {
        cases.push(gen_case(&mut rng));
    }
    cases
}

#[test]
fn differential_against_lua54() {
    let lua = std::env::var("FORKMON_LUA").unwrap_or_else(|_| "lua5.4".into());
    let skip = std::env::var("FORKMON_SKIP_LUA").as_deref() == Ok("1");
    let cases = all_cases();
    let dir = std::env::temp_dir().join(format!("forkmon-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut answers = Vec::with_capacity(cases.len());
    for (n, chunk) in cases.chunks(5000).enumerate() {
        match run_lua(&lua, chunk, &dir, n) {
            Some(a) => answers.extend(a),
            None if skip => {
                let _ = std::fs::remove_dir_all(&dir);
                eprintln!("{lua} not found; skipped because FORKMON_SKIP_LUA=1");
                return;
            }
            None => {
                let _ = std::fs::remove_dir_all(&dir);
                panic!(
                    "`{lua}` not found: the differential test needs Lua 5.4 \
                 (apt-get install lua5.4, or FORKMON_LUA=/path/to/lua5.4); \
                 set FORKMON_SKIP_LUA=1 to skip it"
                )
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut failures = Vec::new();
    let mut lua_errors = 0usize;
    let mut eager_rejected: HashSet<&[u8]> = HashSet::new();
    for (c, lua_ans) in cases.iter().zip(&answers) {
        let lazy = ours(Pattern::compile_lazy(&c.pat).find(&c.subj, c.init));
        let mut problem = None;
        if &lazy != lua_ans {
            problem = Some(format!("lazy: {lazy}"));
        }
        if let Answer::Err(_) = lua_ans {
            lua_errors += 1;
        }
        match Pattern::compile(&c.pat) {
            Ok(p) => {
                let eager = ours(p.find(&c.subj, c.init));
                if &eager != lua_ans {
                    problem = Some(format!("eager compile ok, find: {eager}"));
                }
            }
            Err(e) => {
                eager_rejected.insert(&c.pat[..]);
                if let Answer::Err(m) = lua_ans
                    && m != e.reason()
                    && m != "pattern too complex"
                {
                    problem = Some(format!("eager compile error: {}", e.reason()));
                }
            }
        }
        if let Some(p) = problem {
            failures.push(format!(
                "pattern {:?} subject {:?} init {}: lua: {lua_ans}; ours: {p}",
                String::from_utf8_lossy(&c.pat),
                String::from_utf8_lossy(&c.subj),
                c.init + 1
            ));
        }
    }
    eprintln!(
        "{} cases, {} raised an error in Lua; {} distinct patterns rejected by Pattern::compile",
        cases.len(),
        lua_errors,
        eager_rejected.len(),
    );
    if !failures.is_empty() {
        for f in failures.iter().take(20) {
            eprintln!("{f}");
        }
        panic!("{} disagreements with lua5.4", failures.len());
    }
}
