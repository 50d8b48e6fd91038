//! The stop signals of the measuring commands, `run`, `reproduce` and `sweep` (`serve` stops
//! through the servers' own entry, `scan_serve::until_stopped`). SIGINT (Ctrl-C), SIGTERM (CI
//! timeouts, `docker stop`, a deleted Kubernetes Job) and SIGHUP (a closed terminal) stop
//! alike: the first stops starting requests and gives open streams a short grace, the second
//! cuts them (what was measured is still written), a third leaves at once.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use loadgen::engine::RunOptions;
use reports::RunReport;
use scenarios::{Scenario, Shard};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::error::{CliError, exit};

/// A signal that stops a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT, Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl StopSignal {
    /// Its usual name.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }

    /// The exit code of a command it stopped: 128 + the signal's number, as shells report.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Interrupt => exit::SIGINT,
            StopSignal::Terminate => exit::SIGTERM,
            StopSignal::Hangup => exit::SIGHUP,
        }
    }
}

/// What the stop signals asked for so far.
#[derive(Debug, Clone)]
pub struct Stop {
    /// Fired by the first signal: start no more requests, let open streams finish briefly.
    pub drain: CancellationToken,
    /// Fired by the second: cut open streams now.
    pub cut: CancellationToken,
    first: Arc<OnceLock<StopSignal>>,
}

/// The runtime a measuring command (`run`, `reproduce`) works on, with the stop signals caught
/// from now on and the open-file limit raised: each virtual user holds a socket (the embedded
/// stack another), and without room for them a descriptor shortage would show up as connect
/// errors.
pub fn measuring_runtime() -> Result<(Runtime, Stop), CliError> {
    scan_serve::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let stop = Stop::install(&runtime)?;
    Ok((runtime, stop))
}

/// One run of a series (`reproduce`, `sweep`): `scenario` through the run path with no live
/// display, stopped by `stop`'s signals, its report written atomically to `report`.
pub fn run_in_series(
    runtime: &Runtime,
    stop: &Stop,
    scenario: &Scenario,
    report: &Path,
) -> Result<RunReport, CliError> {
    let measured = runtime
        .block_on(loadgen::scenario_run::run_scenario(
            scenario,
            series_options(stop),
        ))
        .map_err(|e| CliError::Run(e.to_string()))?;
    write_report(&measured, report)?;
    Ok(measured)
}

/// The options of a run in a series: the whole load, stopped by `stop`'s signals, no live
/// display.
pub fn series_options(stop: &Stop) -> RunOptions {
    RunOptions {
        shard: Shard::WHOLE,
        stop: stop.drain.child_token(),
        cut: stop.cut.child_token(),
        live: None,
        on_live: Box::new(|_, _, _, _| {}),
    }
}

/// Writes a run's report atomically to `path`.
pub fn write_report(report: &RunReport, path: &Path) -> Result<(), CliError> {
    report
        .write_atomic(path)
        .map_err(|e| CliError::Run(e.to_string()))
}

impl Stop {
    /// Catches the stop signals from now on; `runtime` listens for them.
    pub fn install(runtime: &Runtime) -> Result<Self, CliError> {
        // goose sets a Ctrl-C handler of its own when an attack starts, which stops its users
        // behind the engine's back and exits 1 on a second Ctrl-C, unless the process has one:
        // ctrlc takes one per process, so an idle one holds the place. SIGINT is caught below
        // with the others (the handler installed below runs first, then chains to this one).
        let _ = ctrlc::set_handler(|| {});
        let _context = runtime.enter();
        let mut signals =
            Signals::new().map_err(|e| CliError::Run(format!("cannot catch stop signals: {e}")))?;
        let stop = Stop {
            drain: CancellationToken::new(),
            cut: CancellationToken::new(),
            first: Arc::new(OnceLock::new()),
        };
        let listener = stop.clone();
        runtime.spawn(async move {
            let first = signals.next().await;
            let _ = listener.first.set(first);
            eprintln!(
                "\nscan-bench: {}: finishing open streams; a second signal cuts them",
                first.name()
            );
            listener.drain.cancel();
            let second = signals.next().await;
            eprintln!(
                "scan-bench: {}: cutting open streams; a third signal leaves at once",
                second.name()
            );
            listener.cut.cancel();
            signals.next().await;
            std::process::exit(i32::from(first.exit_code()));
        });
        Ok(stop)
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<StopSignal> {
        self.first.get().copied()
    }

    /// The exit code of a command the signals stopped (SIGINT's when the stop came from
    /// elsewhere).
    pub fn exit_code(&self) -> u8 {
        self.signal().map_or(exit::SIGINT, StopSignal::exit_code)
    }
}

/// The registered signal streams.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    /// Registers the handlers: from here on these signals no longer end the process.
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.hangup.recv() => StopSignal::Hangup,
        }
    }
}

/// Elsewhere only Ctrl-C.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn next(&mut self) -> StopSignal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => StopSignal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}
