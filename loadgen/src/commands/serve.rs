//! `scan-bench serve`: the mock or the pipeline on its own, until a stop signal (SIGINT,
//! SIGTERM, SIGHUP): the first shuts the server down gracefully, a second cuts that short.
//! The servers' own entries do the serving, as in their standalone binaries; either way the
//! mock's admin API takes its token from `MOCK_OPENAI_ADMIN_TOKEN`
//! ([`mock_openai::ServerOptions::from_env`]).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use mock_openai::{MockConfig, MockServer, ServerOptions, StartError};
use reference_pipeline::{PipelineConfig, Provider};

use crate::args::{ServeArgs, Server};
use crate::error::CliError;

/// Serves until a signal; addresses go to stdout, one line per server. Each server runs
/// through its crate's one entry (`serve_until_signal`), as its own binary does.
pub fn serve(args: &ServeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let bad_config = |e: &dyn std::fmt::Display| CliError::BadInput(e.to_string());
    let run = |e: &dyn std::fmt::Display| CliError::Run(e.to_string());
    match args.server {
        Server::MockOpenai => {
            if !args.openai_urls.is_empty() {
                return Err(CliError::BadInput(
                    "--openai-url applies to `serve pipeline` only".into(),
                ));
            }
            let config = match &args.config {
                Some(path) => MockConfig::from_toml_file(path).map_err(|e| bad_config(&e))?,
                None => MockConfig::default(),
            };
            runtime
                .block_on(mock_openai::serve_until_signal(
                    config,
                    args.listen,
                    |mock| announce(out, "mock-openai", &mock.base_url()),
                ))
                .map_err(|e| match e {
                    StartError::AdminToken(_) => bad_config(&e),
                    _ => run(&e),
                })
        }
        Server::Pipeline => {
            let mut config = match &args.config {
                Some(path) => PipelineConfig::from_toml_file(path).map_err(|e| bad_config(&e))?,
                None => PipelineConfig::default(),
            };
            runtime.block_on(async {
                let mock = if args.openai_urls.is_empty() {
                    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                    // The embedded mock's admin API is guarded as `serve mock-openai`'s is.
                    let options =
                        ServerOptions::from_env().map_err(|e| bad_config(&StartError::from(e)))?;
                    let mock = MockServer::start_with(MockConfig::default(), loopback, options)
                        .await
                        .map_err(|e| run(&e))?;
                    announce(out, "mock-openai", &mock.base_url());
                    config.openai.providers = vec![Provider::new(mock.base_url())];
                    Some(mock)
                } else {
                    config.openai.providers = args.openai_urls.iter().map(Provider::new).collect();
                    None
                };
                config.validate().map_err(|e| bad_config(&e))?;
                let served = reference_pipeline::serve_until_signal(config, args.listen, |p| {
                    announce(out, "reference-pipeline", &p.base_url())
                })
                .await;
                if let Some(mock) = mock {
                    mock.shutdown().await;
                }
                served.map_err(|e| run(&e))
            })
        }
    }
}

/// `WHAT listening on URL`, flushed at once: tests and scripts read it to find the port.
fn announce(out: &mut dyn Write, what: &str, url: &str) {
    let _ = writeln!(out, "{what} listening on {url}");
    let _ = out.flush();
}
