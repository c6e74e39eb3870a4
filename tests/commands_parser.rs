//! The comment grammar as a table: comment → the commands slipway runs, or the exact error it
//! replies with.

use std::time::Instant;

use slipway::commands::parser::{
    parse, validate, validate_at, Command, Place, MAX_COMMANDS_PER_COMMENT,
};

const ENVIRONMENTS: &[&str] = &["dev", "staging", "prod"];

/// What one comment line becomes: `Ok((line, command))` or `Err((line, reply text))`.
type Outcome = Result<(usize, Command), (usize, String)>;

fn run(body: &str) -> Vec<Outcome> {
    validate(parse(body), ENVIRONMENTS)
        .into_iter()
        .map(|result| match result {
            Ok(line) => Ok((line.line, line.command)),
            Err(err) => Err((err.line, err.to_string())),
        })
        .collect()
}

fn promote(target: &str, source: Option<&str>) -> Command {
    Command::Promote {
        target: target.into(),
        source: source.map(Into::into),
    }
}

fn lock(env: &str, reason: Option<&str>) -> Command {
    Command::Lock {
        env: env.into(),
        reason: reason.map(Into::into),
    }
}

fn unlock(env: &str) -> Command {
    Command::Unlock { env: env.into() }
}

fn rollback(env: &str, to: Option<&str>) -> Command {
    Command::Rollback {
        env: env.into(),
        to: to.map(Into::into),
    }
}

fn err(line: usize, text: &str) -> Outcome {
    Err((line, text.to_string()))
}

#[test]
fn comments_become_commands_or_exact_errors() {
    let cases: Vec<(&str, &str, Vec<Outcome>)> = vec![
        // The five commands.
        ("preview", "/preview", vec![Ok((1, Command::Preview))]),
        ("help", "/help", vec![Ok((1, Command::Help))]),
        ("promote to the default source", "/promote prod", vec![Ok((1, promote("prod", None)))]),
        (
            "promote from a named source",
            "/promote prod from dev",
            vec![Ok((1, promote("prod", Some("dev"))))],
        ),
        ("lock without reason", "/lock prod", vec![Ok((1, lock("prod", None)))]),
        (
            "lock with a reason, spacing inside kept",
            "/lock prod  release freeze   until Monday  ",
            vec![Ok((1, lock("prod", Some("release freeze   until Monday"))))],
        ),
        ("unlock", "/unlock staging", vec![Ok((1, unlock("staging")))]),
        // Where a command may stand.
        ("up to three spaces of indentation", "   /preview", vec![Ok((1, Command::Preview))]),
        ("four spaces is indented code", "    /preview", vec![]),
        ("a tab is indented code", "\t/preview", vec![]),
        ("not at the start of the line", "please /preview", vec![]),
        ("inside a list item", "- /preview", vec![]),
        ("inline code", "`/preview`", vec![]),
        ("case of the name is ignored", "/PROMOTE prod", vec![Ok((1, promote("prod", None)))]),
        ("trailing punctuation on the name", "/help.", vec![Ok((1, Command::Help))]),
        (
            "after prose, on its own line",
            "Looks good to me.\n/promote prod\nThanks!",
            vec![Ok((2, promote("prod", None)))],
        ),
        // Several per comment, in order.
        (
            "several commands",
            "/unlock prod\n\n/promote prod from staging\n/lock prod shipping",
            vec![
                Ok((1, unlock("prod"))),
                Ok((3, promote("prod", Some("staging")))),
                Ok((4, lock("prod", Some("shipping")))),
            ],
        ),
        (
            "CRLF line endings",
            "/lock prod freeze\r\n/unlock dev\r\n",
            vec![Ok((1, lock("prod", Some("freeze")))), Ok((2, unlock("dev")))],
        ),
        (
            "lone CR line endings",
            "/help\r/preview",
            vec![Ok((1, Command::Help)), Ok((2, Command::Preview))],
        ),
        // Code fences.
        ("backtick fence", "```\n/promote prod\n```\n/help", vec![Ok((4, Command::Help))]),
        ("tilde fence with info string", "~~~ sh\n/lock prod\n~~~\n/help", vec![Ok((4, Command::Help))]),
        (
            "a longer closing fence closes; a shorter one does not",
            "````\n/lock prod\n```\n/lock dev\n`````\n/unlock dev",
            vec![Ok((6, unlock("dev")))],
        ),
        (
            "a tilde line does not close a backtick fence",
            "```\n~~~\n/lock prod\n```\n/help",
            vec![Ok((5, Command::Help))],
        ),
        ("an unclosed fence runs to the end", "/help\n```yaml\n/lock prod\n/unlock prod", vec![Ok((1, Command::Help))]),
        (
            "inline code with three backticks is not a fence",
            "```inline``` text\n/help",
            vec![Ok((2, Command::Help))],
        ),
        (
            "a fence in a list item",
            "- example:\n  ```\n  /lock prod\n  ```\n/help",
            vec![Ok((5, Command::Help))],
        ),
        // Quotes.
        ("a quoted command", "> /promote prod\n\n/help", vec![Ok((3, Command::Help))]),
        ("a nested quote", ">> /lock prod\n>\n> /unlock prod", vec![]),
        (
            "a line right after quoted text continues the quote",
            "> you wrote this\n/lock prod\n\n/unlock prod",
            vec![Ok((4, unlock("prod")))],
        ),
        (
            "a quoted code block does not swallow the next line",
            "> ```\n> /lock prod\n> ```\n/help",
            vec![Ok((4, Command::Help))],
        ),
        ("a quoted heading has no continuation", "> # Title\n/help", vec![Ok((2, Command::Help))]),
        // HTML comments.
        ("a one-line HTML comment", "<!-- /lock prod -->\n/help", vec![Ok((2, Command::Help))]),
        (
            "a multi-line HTML comment",
            "<!--\n/lock prod\n-->\n/help",
            vec![Ok((4, Command::Help))],
        ),
        // Other bots' commands and paths are not slipway's.
        ("another bot's command", "/cc @someone\n/assign @me\n/lgtm\n/hold\n/retest", vec![]),
        ("a PR-Agent command close to /preview", "/review\n/improve", vec![]),
        ("a path", "/usr/bin/env bash\n/etc/hosts", vec![]),
        ("a lone slash", "/\n/ help", vec![]),
        ("a non-ASCII word", "/предпросмотр", vec![]),
        ("a word far from every command", "/deploy prod", vec![]),
        // Typos.
        (
            "a typo of promote",
            "/promte prod",
            vec![err(1, "`/promte prod`: unknown command; did you mean `/promote prod`?")],
        ),
        (
            "swapped first letters",
            "/rpomote prod from dev",
            vec![err(1, "`/rpomote prod from dev`: unknown command; did you mean `/promote prod from dev`?")],
        ),
        (
            "a typo without arguments suggests the usage",
            "/unlok",
            vec![err(1, "`/unlok`: unknown command; did you mean `/unlock <env>`?")],
        ),
        ("a typo of lock", "/lokc prod", vec![err(1, "`/lokc prod`: unknown command; did you mean `/lock prod`?")]),
        ("a typo of help", "/hlep", vec![err(1, "`/hlep`: unknown command; did you mean `/help`?")]),
        ("a typo of preview", "/previwe", vec![err(1, "`/previwe`: unknown command; did you mean `/preview`?")]),
        // Arguments.
        (
            "missing environment",
            "/lock",
            vec![err(1, "`/lock`: the environment is missing; usage: `/lock <env> [reason…]`")],
        ),
        (
            "missing promotion target",
            "/promote",
            vec![err(1, "`/promote`: the environment to promote to is missing; usage: `/promote <env> [from <env>]`")],
        ),
        (
            "missing source after from",
            "/promote prod from",
            vec![err(1, "`/promote prod from`: the environment after `from` is missing; usage: `/promote <env> [from <env>]`")],
        ),
        (
            "from without a target",
            "/promote from staging",
            vec![err(1, "`/promote from staging`: the environment to promote to is missing; usage: `/promote <env> [from <env>]`")],
        ),
        (
            "a source without from",
            "/promote prod staging",
            vec![err(1, "`/promote prod staging`: unexpected `staging`; did you mean `/promote prod from staging`?")],
        ),
        (
            "a typo of from",
            "/promote prod form staging",
            vec![err(1, "`/promote prod form staging`: unexpected `form`; did you mean `/promote prod from staging`?")],
        ),
        (
            "an extra argument after the source",
            "/promote prod from staging now",
            vec![err(1, "`/promote prod from staging now`: unexpected `now`; did you mean `/promote prod from staging`?")],
        ),
        (
            "an extra argument to unlock",
            "/unlock prod please",
            vec![err(1, "`/unlock prod please`: unexpected `please`; did you mean `/unlock prod`?")],
        ),
        (
            "an argument to preview",
            "/preview prod",
            vec![err(1, "`/preview prod`: unexpected `prod`; did you mean `/preview`?")],
        ),
        // Environments.
        (
            "an unknown environment close to a declared one",
            "/promote prd",
            vec![err(1, "`/promote prd`: unknown environment `prd`; did you mean `/promote prod`?")],
        ),
        (
            "an unknown source environment",
            "/promote prod from stagin",
            vec![err(1, "`/promote prod from stagin`: unknown environment `stagin`; did you mean `/promote prod from staging`?")],
        ),
        (
            "an environment in the wrong case",
            "/lock PROD freeze",
            vec![err(1, "`/lock PROD freeze`: unknown environment `PROD`; did you mean `/lock prod freeze`?")],
        ),
        (
            "an environment far from every declared one",
            "/unlock qa",
            vec![err(1, "`/unlock qa`: unknown environment `qa`; this repository declares `dev`, `staging`, `prod`")],
        ),
        (
            "promotion from itself",
            "/promote prod from prod",
            vec![err(1, "`/promote prod from prod`: an environment cannot be promoted from itself; usage: `/promote <env> [from <env>]`")],
        ),
        // Unicode.
        (
            "a unicode reason",
            "/lock prod 🚧 Wartung — bis Montag",
            vec![Ok((1, lock("prod", Some("🚧 Wartung — bis Montag"))))],
        ),
        (
            "a no-break space separates words",
            "/lock\u{a0}prod",
            vec![Ok((1, lock("prod", None)))],
        ),
        (
            "a unicode environment",
            "/unlock prød",
            vec![err(1, "`/unlock prød`: unknown environment `prød`; did you mean `/unlock prod`?")],
        ),
        (
            "backticks in quoted input cannot break the reply",
            "/promte `x`",
            vec![err(1, "`/promte 'x'`: unknown command; did you mean `/promote 'x'`?")],
        ),
        // Errors and commands together, each on its line.
        (
            "a good and a bad line",
            "/lock prod\n/unlcok prod",
            vec![
                Ok((1, lock("prod", None))),
                err(2, "`/unlcok prod`: unknown command; did you mean `/unlock prod`?"),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, body, expected) in &cases {
        let got = run(body);
        if &got != expected {
            failures.push(format!(
                "{name}:\n  body: {body:?}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn rollback_takes_an_environment_and_optionally_a_commit_sha() {
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    let usage = "usage: `/rollback <env> [to <sha>]`";
    let cases: Vec<(&str, String, Vec<Outcome>)> = vec![
        ("the previous deploy", "/rollback prod".into(), vec![Ok((1, rollback("prod", None)))]),
        (
            "a short sha",
            "/rollback dev to abc1234".into(),
            vec![Ok((1, rollback("dev", Some("abc1234"))))],
        ),
        (
            "a full sha, uppercase kept as hex",
            format!("/rollback dev to {}", SHA.to_uppercase()),
            vec![Ok((1, rollback("dev", Some(SHA))))],
        ),
        (
            "no environment",
            "/rollback".into(),
            vec![err(1, &format!("`/rollback`: the environment is missing; {usage}"))],
        ),
        (
            "the keyword first",
            "/rollback to abc1234".into(),
            vec![err(1, &format!("`/rollback to abc1234`: the environment is missing; {usage}"))],
        ),
        (
            "nothing after the keyword",
            "/rollback dev to".into(),
            vec![err(1, &format!("`/rollback dev to`: the commit sha after `to` is missing; {usage}"))],
        ),
        (
            "too short",
            "/rollback dev to abc123".into(),
            vec![err(
                1,
                &format!("`/rollback dev to abc123`: `abc123` is not a commit sha: write 7 to 40 hexadecimal digits; {usage}"),
            )],
        ),
        (
            "too long",
            format!("/rollback dev to {SHA}0"),
            vec![err(
                1,
                &format!("`/rollback dev to {SHA}0`: `{SHA}0` is not a commit sha: write 7 to 40 hexadecimal digits; {usage}"),
            )],
        ),
        (
            "a ref name is not a sha",
            "/rollback dev to main~1".into(),
            vec![err(
                1,
                &format!("`/rollback dev to main~1`: `main~1` is not a commit sha: write 7 to 40 hexadecimal digits; {usage}"),
            )],
        ),
        (
            "the keyword left out",
            "/rollback dev abc1234".into(),
            vec![err(1, "`/rollback dev abc1234`: unexpected `abc1234`; did you mean `/rollback dev to abc1234`?")],
        ),
        (
            "another word for the keyword",
            "/rollback dev too abc1234".into(),
            vec![err(1, "`/rollback dev too abc1234`: unexpected `too`; did you mean `/rollback dev to abc1234`?")],
        ),
        (
            "words after the sha",
            "/rollback dev to abc1234 please".into(),
            vec![err(1, "`/rollback dev to abc1234 please`: unexpected `please`; did you mean `/rollback dev to abc1234`?")],
        ),
        (
            "an unknown environment",
            "/rollback prd to abc1234".into(),
            vec![err(1, "`/rollback prd to abc1234`: unknown environment `prd`; did you mean `/rollback prod to abc1234`?")],
        ),
        (
            "a typo of the name",
            "/rollbak dev".into(),
            vec![err(1, "`/rollbak dev`: unknown command; did you mean `/rollback dev`?")],
        ),
    ];
    let mut failures = Vec::new();
    for (name, body, expected) in &cases {
        let got = run(body);
        if &got != expected {
            failures.push(format!(
                "{name}:\n  body: {body:?}\n  expected: {expected:?}\n  got:      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn on_a_plain_issue_only_preview_needs_a_pull_request() {
    let body = "/preview\n/rollback dev\n/lock prod\n/help";
    let got: Vec<Outcome> = validate_at(parse(body), ENVIRONMENTS, Place::Issue)
        .into_iter()
        .map(|result| match result {
            Ok(line) => Ok((line.line, line.command)),
            Err(err) => Err((err.line, err.to_string())),
        })
        .collect();
    assert_eq!(
        got,
        vec![
            err(
                1,
                "`/preview`: `/preview` works on pull requests only, and this is an issue: write it on the pull request"
            ),
            Ok((2, rollback("dev", None))),
            Ok((3, lock("prod", None))),
            Ok((4, Command::Help)),
        ]
    );
}

#[test]
fn a_reason_longer_than_the_limit_is_an_error() {
    let body = format!("/lock prod {}", "x".repeat(501));
    let got = run(&body);
    assert_eq!(got.len(), 1);
    let Err((1, message)) = &got[0] else {
        panic!("{got:?}")
    };
    assert!(
        message.ends_with(": the reason is 501 characters long; keep it to at most 500"),
        "{message}"
    );
}

#[test]
fn more_commands_than_the_limit_refuse_the_comment() {
    let body = "/lock dev\n".repeat(MAX_COMMANDS_PER_COMMENT + 5);
    let got = run(&body);
    assert_eq!(got.len(), MAX_COMMANDS_PER_COMMENT + 1);
    assert_eq!(
        got.last().unwrap(),
        &err(
            MAX_COMMANDS_PER_COMMENT + 1,
            "`/lock dev`: more than 10 commands in one comment; nothing was run: write at most 10 per comment"
        )
    );
}

#[test]
fn a_65_kb_comment_is_parsed_quickly() {
    // Prose, code fences, quotes, foreign commands and near-misses, then two commands at the end.
    let mut body = String::new();
    let chunk = "Some prose about the change, with ünïcode — and `code`.\r\n\
                 ```yaml\r\n/lock prod\r\nimage: registry.example.com/api:1.2.3\r\n```\r\n\
                 > /promote prod\r\n\r\n/cc @someone\r\n/usr/local/bin/tool --flag\r\n";
    while body.len() < 65 * 1024 {
        body.push_str(chunk);
    }
    body.push_str("/promote prod from staging\r\n/help\r\n");
    let start = Instant::now();
    let got = run(&body);
    let elapsed = start.elapsed();
    let lines = body.matches('\n').count();
    assert_eq!(
        got,
        vec![
            Ok((lines - 1, promote("prod", Some("staging")))),
            Ok((lines, Command::Help))
        ]
    );
    assert!(elapsed.as_millis() < 200, "took {elapsed:?}");
}

#[test]
fn a_65_kb_line_of_one_long_word_is_not_a_typo() {
    let body = format!("/{}", "p".repeat(65 * 1024));
    let start = Instant::now();
    assert_eq!(run(&body), vec![]);
    assert!(start.elapsed().as_millis() < 200);
}
