//! The control socket: `fastpath ctl SOCKET COMMAND [ARGS]` talks to a
//! running switch, with Open vSwitch's command names (`ovs-ofctl`'s flow
//! commands, `ovs-appctl`'s datapath ones).
//!
//! Protocol: one JSON request line (`{"args": [...], "json": bool}`), one
//! JSON reply line (`{"ok": bool, "output": "..."}`). A thread accepts
//! connections and parses each request into a [`Command`] (rule text
//! included), so a malformed request is answered without touching the
//! switch; the packet thread executes parsed commands between two bursts
//! ([`CtlServer::serve`]) and every rule change is followed at once by a
//! revalidation, so traffic sees it within the same loop iteration.

use super::port::PortSpec;
use super::report::{self, FlowType};
use super::rules::{self, FlowFilter};
use super::{Switch, SwitchError};
use crate::ofproto::parse::parse_rule;
use crate::ofproto::parse::parse_trace_flow;
use crate::ofproto::{parse_rules, Rule};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Largest request accepted (an `add-flows` file travels inside it).
pub const MAX_REQUEST: u64 = 256 << 20;

/// Errors of the client side.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Connecting, sending or receiving failed.
    #[error("control socket {path}: {step}: {source}")]
    Io {
        /// Socket path.
        path: String,
        /// What was being done.
        step: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// A flows file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The reply was not valid JSON.
    #[error("control socket {path}: malformed reply: {msg}")]
    Reply {
        /// Socket path.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// No command given.
    #[error("no command given (try `show`)")]
    Empty,
}

/// A request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Command and arguments (a flows file's contents in place of its name).
    pub args: Vec<String>,
    /// Reply in JSON instead of text.
    #[serde(default)]
    pub json: bool,
    /// Name of the flows file (for error messages).
    #[serde(default)]
    pub source: Option<String>,
}

/// A reply.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    /// Whether the command succeeded (else `output` is the error).
    pub ok: bool,
    /// Text or JSON output, or the error message.
    pub output: String,
}

impl Response {
    fn err(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            output: msg.into(),
        }
    }
}

impl Request {
    /// The request for command line `args`: `add-flows FILE` and
    /// `replace-flows FILE` (`-`: standard input) send the file's contents.
    pub fn from_cli(args: &[String], json: bool) -> Result<Self, CtlError> {
        let mut args = args.to_vec();
        if args.is_empty() {
            return Err(CtlError::Empty);
        }
        let mut source = None;
        if matches!(
            args[0].as_str(),
            "add-flows" | "replace-flows" | "add-groups"
        ) && args.len() == 2
        {
            let f = args[1].clone();
            let text = if f == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|source| CtlError::File {
                        path: "<stdin>".into(),
                        source,
                    })?;
                s
            } else {
                std::fs::read_to_string(&f).map_err(|source| CtlError::File {
                    path: f.clone(),
                    source,
                })?
            };
            args[1] = text;
            source = Some(if f == "-" { "<stdin>".into() } else { f });
        }
        Ok(Request { args, json, source })
    }
}

/// Sends `req` to the switch at `path` and returns its reply.
pub fn request(path: &Path, req: &Request) -> Result<Response, CtlError> {
    let p = path.display().to_string();
    let io = |step| {
        let p = p.clone();
        move |source| CtlError::Io {
            path: p,
            step,
            source,
        }
    };
    let mut s = UnixStream::connect(path).map_err(io("connect"))?;
    let mut line = serde_json::to_vec(req).map_err(|e| CtlError::Reply {
        path: p.clone(),
        msg: e.to_string(),
    })?;
    line.push(b'\n');
    s.write_all(&line).map_err(io("send"))?;
    s.shutdown(std::net::Shutdown::Write).map_err(io("send"))?;
    let mut reply = String::new();
    s.take(MAX_REQUEST)
        .read_to_string(&mut reply)
        .map_err(io("receive"))?;
    serde_json::from_str(reply.trim()).map_err(|e| CtlError::Reply {
        path: p,
        msg: format!("{e} in {:?}", reply.chars().take(200).collect::<String>()),
    })
}

/// A parsed command.
// Commands are made one per request and moved once: boxing the larger
// variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Command {
    /// `add-flow RULE`, `add-flows FILE`.
    AddFlows(Vec<Rule>),
    /// `del-flows [--strict] [MATCH]`.
    DelFlows(FlowFilter),
    /// `mod-flows [--strict] MATCH,actions=...`.
    ModFlows(FlowFilter, Rule),
    /// `replace-flows FILE`.
    ReplaceFlows(Vec<Rule>),
    /// `dump-flows [MATCH]`.
    DumpFlows(Option<FlowFilter>),
    /// `dpctl/dump-flows [type=offloaded|non-offloaded]`.
    DpDumpFlows(FlowType),
    /// `dpif-netdev/pmd-perf-show`.
    PmdPerfShow,
    /// `dpctl/offload-stats-show`.
    OffloadStatsShow,
    /// `controller/show`: packet-ins counted, and the last ones.
    ControllerShow,
    /// `ofproto/trace [BRIDGE] FLOW`.
    Trace(Box<crate::ofproto::Flow>),
    /// `show`.
    Show,
    /// `port-add NAME=TYPE:ARGS[,ofport=N]`.
    PortAdd(PortSpec),
    /// `port-del NAME`.
    PortDel(String),
    /// `revalidate`.
    Revalidate,
    /// `exit`: stop the switch (with its final report).
    Exit,
    /// `add-group LINE`, `add-groups FILE` (`ovs-ofctl add-groups` syntax).
    AddGroups(Vec<crate::ofproto::groups::Group>),
    /// `del-groups [group_id=N]`.
    DelGroups(u32),
    /// `dump-groups`.
    DumpGroups,
}

/// The commands and their arguments (for `--help` and errors).
pub const COMMANDS: &str = "add-flow RULE | add-flows FILE | del-flows [--strict] [MATCH] | \
mod-flows [--strict] RULE | replace-flows FILE | dump-flows [MATCH] | \
dpctl/dump-flows [type=offloaded|non-offloaded] | dpif-netdev/pmd-perf-show | \
dpctl/offload-stats-show | controller/show | ofproto/trace [br0] FLOW | show | \
port-add NAME=TYPE:ARGS[,ofport=N] | port-del NAME | revalidate | exit | \
add-group GROUP | add-groups FILE | del-groups [group_id=N] | dump-groups";

/// Parses a request into a command, or says what is wrong with it.
pub fn parse_command(req: &Request) -> Result<Command, String> {
    let (cmd, rest) = req.args.split_first().ok_or("no command given")?;
    let src = req.source.as_deref().unwrap_or("<request>");
    let strict = rest.first().is_some_and(|a| a == "--strict");
    let rest_ns: &[String] = if strict { &rest[1..] } else { rest };
    let one = |what: &str| -> Result<&String, String> {
        match rest_ns {
            [a] => Ok(a),
            _ => Err(format!("{cmd}: expected one argument, {what}")),
        }
    };
    let opt = || -> Result<Option<&String>, String> {
        match rest_ns {
            [] => Ok(None),
            [a] => Ok(Some(a)),
            _ => Err(format!("{cmd}: expected at most one argument")),
        }
    };
    let no_args = || -> Result<(), String> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{cmd}: takes no arguments"))
        }
    };
    let no_strict = || -> Result<(), String> {
        if strict {
            Err(format!(
                "{cmd}: --strict applies to del-flows and mod-flows only"
            ))
        } else {
            Ok(())
        }
    };
    let e = |x: crate::ofproto::ParseError| format!("{cmd}: {x}");
    Ok(match cmd.as_str() {
        "add-flow" => {
            no_strict()?;
            Command::AddFlows(vec![parse_rule(one("a rule")?).map_err(e)?])
        }
        "add-flows" => {
            no_strict()?;
            Command::AddFlows(parse_rules(one("a flows file")?, src).map_err(e)?)
        }
        "replace-flows" => {
            no_strict()?;
            Command::ReplaceFlows(parse_rules(one("a flows file")?, src).map_err(e)?)
        }
        "del-flows" => {
            Command::DelFlows(FlowFilter::parse(opt()?.map_or("", |s| s), strict).map_err(e)?)
        }
        "mod-flows" => {
            let r = parse_rule(one("a rule with actions")?).map_err(e)?;
            let text = one("")?;
            let m = &text[..text.find("actions").unwrap_or(text.len())];
            let m = m.trim_end_matches([',', ' ']);
            let f = FlowFilter::parse(m, strict).map_err(e)?;
            Command::ModFlows(f, r)
        }
        "dump-flows" => {
            no_strict()?;
            Command::DumpFlows(
                opt()?
                    .map(|m| FlowFilter::parse(m, false))
                    .transpose()
                    .map_err(e)?,
            )
        }
        "dpctl/dump-flows" => {
            no_strict()?;
            Command::DpDumpFlows(match opt()?.map(String::as_str) {
                None | Some("type=all") => FlowType::All,
                Some("type=offloaded") => FlowType::Offloaded,
                Some("type=non-offloaded") => FlowType::NonOffloaded,
                Some(o) => {
                    return Err(format!(
                        "{cmd}: `{o}`: expected type=offloaded, type=non-offloaded or type=all"
                    ))
                }
            })
        }
        "dpif-netdev/pmd-perf-show" => {
            no_args()?;
            Command::PmdPerfShow
        }
        "dpctl/offload-stats-show" => {
            no_args()?;
            Command::OffloadStatsShow
        }
        "controller/show" => {
            no_args()?;
            Command::ControllerShow
        }
        "ofproto/trace" => {
            no_strict()?;
            let flow = match rest {
                [f] => f,
                [b, f] if b == "br0" => f,
                _ => return Err(format!("{cmd}: expected [br0] FLOW")),
            };
            Command::Trace(Box::new(parse_trace_flow(flow).map_err(e)?))
        }
        "show" => {
            no_args()?;
            Command::Show
        }
        "port-add" => {
            no_strict()?;
            Command::PortAdd(
                one("NAME=TYPE:ARGS")?
                    .parse()
                    .map_err(|x| format!("{cmd}: {x}"))?,
            )
        }
        "port-del" => {
            no_strict()?;
            Command::PortDel(one("a port name")?.clone())
        }
        "revalidate" => {
            no_args()?;
            Command::Revalidate
        }
        "exit" => {
            no_args()?;
            Command::Exit
        }
        "add-group" | "add-groups" | "del-groups" | "dump-groups" => {
            no_strict()?;
            parse_group_command(cmd, rest_ns, src)?
        }
        other => return Err(format!("unknown command `{other}`; commands: {COMMANDS}")),
    })
}

/// The group commands (`ovs-ofctl`'s names and syntax).
fn parse_group_command(cmd: &str, rest: &[String], src: &str) -> Result<Command, String> {
    use crate::ofproto::groups::{parse_group, parse_groups, OFPG_ALL, OFPG_MAX};
    Ok(match (cmd, rest) {
        ("add-group", [g]) => {
            Command::AddGroups(vec![parse_group(g).map_err(|m| format!("{cmd}: {m}"))?])
        }
        ("add-groups", [text]) => {
            Command::AddGroups(parse_groups(text, src).map_err(|e| format!("{cmd}: {e}"))?)
        }
        ("del-groups", []) => Command::DelGroups(OFPG_ALL),
        ("del-groups", [g]) => {
            let v = g.strip_prefix("group_id=").unwrap_or(g);
            Command::DelGroups(match v {
                "all" => OFPG_ALL,
                v => crate::ofproto::parse::parse_uint(v, u128::from(OFPG_MAX))
                    .map_err(|_| format!("{cmd}: invalid group id {v}"))?
                    as u32,
            })
        }
        ("dump-groups", []) => Command::DumpGroups,
        _ => return Err(format!("{cmd}: bad arguments; commands: {COMMANDS}")),
    })
}

/// Runs a group command; `None` for the other commands. A rule naming a
/// missing group is refused here, before the rule commands run.
fn execute_groups(sw: &mut Switch, cmd: &Command, json: bool) -> Option<Response> {
    use crate::ofproto::groups::format_group;
    match cmd {
        Command::AddFlows(rs) | Command::ReplaceFlows(rs) => {
            let bad = rs.iter().find_map(|r| sw.of.check_rule_groups(r).err())?;
            Some(Response::err(format!("add-flows: {bad}")))
        }
        Command::AddGroups(gs) => {
            let n = gs.len();
            for g in gs {
                if let Err(e) = sw.of.add_group(g.clone()) {
                    return Some(Response::err(format!("add-groups: {e}")));
                }
            }
            sw.sync();
            let (d, m) = sw.revalidate();
            Some(Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "groups_added": n, "megaflows_deleted": d, "megaflows_modified": m }).to_string()
                } else {
                    format!("groups: {n} added; megaflows revalidated: {d} deleted, {m} modified\n")
                },
            })
        }
        Command::DelGroups(id) => {
            sw.sync();
            let (n, removed) = sw.of.delete_groups(*id);
            let (d, m) = sw.revalidate();
            Some(Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "groups_deleted": n, "rules_deleted": removed.len(), "megaflows_deleted": d, "megaflows_modified": m }).to_string()
                } else {
                    format!("groups: {n} deleted, rules: {} deleted; megaflows revalidated: {d} deleted, {m} modified\n", removed.len())
                },
            })
        }
        Command::DumpGroups => {
            let lines: Vec<String> = sw.of.groups().iter().map(format_group).collect();
            Some(Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "groups": lines }).to_string()
                } else {
                    lines.iter().map(|l| format!(" {l}\n")).collect()
                },
            })
        }
        _ => None,
    }
}

fn reading(r: report::Reading, json: bool) -> Response {
    Response {
        ok: true,
        output: if json { r.json.to_string() } else { r.text },
    }
}

fn flow_mod(
    sw: &mut Switch,
    json: bool,
    res: rules::FlowModResult,
    removed: Vec<rules::RuleDump>,
) -> Response {
    // Push the counters first: megaflows re-linked or deleted by the pass
    // have their packets credited to the rules they went through.
    let (deleted, modified) = sw.revalidate();
    tracing::info!(
        added = res.added,
        modified = res.modified,
        deleted = res.deleted,
        megaflows_deleted = deleted,
        megaflows_modified = modified,
        "rules changed"
    );
    Response {
        ok: true,
        output: if json {
            serde_json::json!({
                "rules": res, "removed": removed,
                "megaflows_deleted": deleted, "megaflows_modified": modified,
            })
            .to_string()
        } else {
            format!(
                "rules: {} added, {} modified, {} deleted; megaflows revalidated: {deleted} deleted, {modified} modified\n",
                res.added, res.modified, res.deleted
            )
        },
    }
}

/// Executes `cmd` on the switch; returns the reply and whether to stop.
pub fn execute(sw: &mut Switch, cmd: Command, json: bool) -> (Response, bool) {
    if let Some(r) = execute_groups(sw, &cmd, json) {
        return (r, false);
    }
    let now = sw.now_ms();
    let r = match cmd {
        Command::AddFlows(rs) => {
            // Counters of megaflows the change re-links go to the old rules.
            sw.sync();
            let res = rules::add(&mut sw.of, &mut sw.rule_stats, rs, now);
            flow_mod(sw, json, res, Vec::new())
        }
        Command::DelFlows(f) => {
            sw.sync();
            let (res, removed) = rules::delete(&mut sw.of, &sw.rule_stats, &f);
            flow_mod(sw, json, res, removed)
        }
        Command::ModFlows(f, r) => {
            sw.sync();
            let res = rules::modify(&mut sw.of, &mut sw.rule_stats, &f, &r, now);
            flow_mod(sw, json, res, Vec::new())
        }
        Command::ReplaceFlows(rs) => {
            sw.sync();
            let res = rules::replace(&mut sw.of, &mut sw.rule_stats, rs, now);
            flow_mod(sw, json, res, Vec::new())
        }
        Command::DumpFlows(f) => reading(report::dump_flows(sw, f.as_ref()), json),
        Command::DpDumpFlows(t) => reading(report::dp_dump_flows(sw, t), json),
        Command::PmdPerfShow => reading(report::pmd_perf_show(sw), json),
        Command::OffloadStatsShow => match report::offload_stats_show(sw) {
            Some(r) => reading(r, json),
            None => {
                Response::err("dpctl/offload-stats-show: no NIC (the switch runs with --nic none)")
            }
        },
        Command::ControllerShow => Response {
            ok: true,
            output: if json {
                sw.controller.show_json().to_string()
            } else {
                sw.controller.show()
            },
        },
        Command::Trace(flow) => {
            let text = crate::ofproto::format::trace_report(&sw.of, &flow);
            Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "trace": text }).to_string()
                } else {
                    text
                },
            }
        }
        Command::Show => reading(report::show(sw), json),
        Command::PortAdd(spec) => match sw.add_port(&spec) {
            Ok(n) => Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "name": spec.name, "ofport": n }).to_string()
                } else {
                    format!("port {} added as ofport {n}\n", spec.name)
                },
            },
            Err(e) => Response::err(format!("port-add: {e}")),
        },
        Command::PortDel(name) => match sw.del_port(&name) {
            Ok((n, flows)) => Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "name": name, "ofport": n, "megaflows_deleted": flows })
                        .to_string()
                } else {
                    format!("port {name} (ofport {n}) deleted with {flows} megaflows\n")
                },
            },
            Err(e) => Response::err(format!("port-del: {e}")),
        },
        Command::Revalidate => {
            let (d, m) = sw.revalidate();
            Response {
                ok: true,
                output: if json {
                    serde_json::json!({ "megaflows_deleted": d, "megaflows_modified": m })
                        .to_string()
                } else {
                    format!("revalidated: {d} megaflows deleted, {m} modified\n")
                },
            }
        }
        // Run by execute_groups above.
        Command::AddGroups(_) | Command::DelGroups(_) | Command::DumpGroups => {
            Response::err("group command not run")
        }
        Command::Exit => {
            return (
                Response {
                    ok: true,
                    output: String::new(),
                },
                true,
            )
        }
    };
    (r, false)
}

type Job = (Command, bool, mpsc::Sender<Response>);

/// The listening control socket and its connection thread.
pub struct CtlServer {
    path: PathBuf,
    jobs: mpsc::Receiver<Job>,
    /// A job [`CtlServer::wait`] took off the channel, served next.
    pending: std::cell::Cell<Option<Job>>,
}

impl CtlServer {
    /// Listens on `path` (a stale socket file nobody answers on is replaced).
    pub fn bind(path: &Path) -> Result<Self, SwitchError> {
        let err = |source| SwitchError::Ctl {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another switch is listening there",
                )));
            }
            std::fs::remove_file(path).map_err(err)?;
        }
        let l = UnixListener::bind(path).map_err(err)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("fastpath-ctl".into())
            .spawn(move || accept_loop(l, tx))
            .map_err(err)?;
        Ok(CtlServer {
            path: path.to_path_buf(),
            jobs: rx,
            pending: std::cell::Cell::new(None),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Executes the commands waiting (between bursts); true when one asked
    /// the switch to stop.
    pub fn serve(&self, sw: &mut Switch) -> bool {
        let mut stop = false;
        let first = self.pending.take();
        let rest = std::iter::from_fn(|| self.jobs.try_recv().ok());
        for (cmd, json, reply) in first.into_iter().chain(rest) {
            let (r, s) = execute(sw, cmd, json);
            stop |= s;
            // The client may have gone; its command is done either way.
            let _ = reply.send(r);
        }
        stop
    }
}

impl CtlServer {
    /// Waits at most `timeout` for a request; true when one is waiting
    /// (for [`CtlServer::serve`]).
    pub fn wait(&self, timeout: Duration) -> bool {
        if let Some(j) = self.pending.take() {
            self.pending.set(Some(j));
            return true;
        }
        match self.jobs.recv_timeout(timeout) {
            Ok(j) => {
                self.pending.set(Some(j));
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // No connection thread: nothing will come; wait anyway.
                std::thread::sleep(timeout);
                false
            }
        }
    }
}

impl Drop for CtlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(l: UnixListener, jobs: mpsc::Sender<Job>) {
    for conn in l.incoming() {
        let Ok(s) = conn else { continue };
        if !handle(s, &jobs) {
            return;
        }
    }
}

/// Serves one connection; false once the packet thread is gone.
fn handle(s: UnixStream, jobs: &mpsc::Sender<Job>) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut w = match s.try_clone() {
        Ok(w) => w,
        Err(_) => return true,
    };
    let mut line = String::new();
    let read = BufReader::new(s.take(MAX_REQUEST)).read_line(&mut line);
    let reply = match read {
        Err(e) => Response::err(format!("reading the request: {e}")),
        Ok(_) => match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Response::err(format!("malformed request: {e}")),
            Ok(req) => match parse_command(&req) {
                Err(msg) => Response::err(msg),
                Ok(cmd) => {
                    let (tx, rx) = mpsc::channel();
                    if jobs.send((cmd, req.json, tx)).is_err() {
                        return false;
                    }
                    match rx.recv() {
                        Ok(r) => r,
                        Err(_) => Response::err("the switch stopped before answering"),
                    }
                }
            },
        },
    };
    if let Ok(mut b) = serde_json::to_vec(&reply) {
        b.push(b'\n');
        let _ = w.write_all(&b);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(args: &[&str]) -> Request {
        Request {
            args: args.iter().map(|s| s.to_string()).collect(),
            json: false,
            source: None,
        }
    }

    #[test]
    fn malformed_commands_are_named() {
        for (args, want) in [
            (&["frobnicate"][..], "unknown command `frobnicate`"),
            (&["add-flow"][..], "add-flow: expected one argument"),
            (&["add-flow", "ip,nw_dts=1,actions=drop"][..], "nw_dts"),
            (&["add-flow", "ip"][..], "must specify an action"),
            (&["del-flows", "ip,actions=drop"][..], "takes no actions"),
            (&["dpctl/dump-flows", "type=bogus"][..], "type=bogus"),
            (&["show", "x"][..], "show: takes no arguments"),
            (&["port-add", "p1=tap:x"][..], "unknown port type `tap`"),
            (&["dump-flows", "--strict"][..], "--strict applies"),
            (&["ofproto/trace", "br1", "ip"][..], "expected [br0] FLOW"),
        ] {
            let e = parse_command(&req(args)).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn commands_parse() {
        assert!(matches!(
            parse_command(&req(&["add-flows", "ip,actions=drop\narp,actions=drop\n"])),
            Ok(Command::AddFlows(v)) if v.len() == 2
        ));
        assert!(matches!(
            parse_command(&req(&["mod-flows", "--strict", "priority=5,ip,actions=output:3"])),
            Ok(Command::ModFlows(f, r)) if f.strict && f.rule.priority == 5 && r.actions_text == "output:3"
        ));
        assert!(matches!(
            parse_command(&req(&["del-flows"])),
            Ok(Command::DelFlows(f)) if !f.strict
        ));
        assert!(matches!(
            parse_command(&req(&["dpctl/dump-flows", "type=offloaded"])),
            Ok(Command::DpDumpFlows(FlowType::Offloaded))
        ));
        assert!(matches!(
            parse_command(&req(&["ofproto/trace", "br0", "in_port=1,ip"])),
            Ok(Command::Trace(_))
        ));
    }
}
