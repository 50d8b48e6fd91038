//! `scan-bench serve`: the mock or the pipeline on its own, until a stop signal (SIGINT,
//! SIGTERM, SIGHUP): the first shuts the server down gracefully, a second cuts that short.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use mock_openai::{MockConfig, MockServer};
use reference_pipeline::{Pipeline, PipelineConfig, Provider};

use crate::args::{ServeArgs, Server};
use crate::commands::signals::Stop;
use crate::error::CliError;

/// Serves until a signal; addresses go to stdout, one line per server.
pub fn serve(args: &ServeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // One descriptor per open stream: take what the machine allows.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Output)?;
    let stop = Stop::install(&runtime)?;
    let bad_config = |e: &dyn std::fmt::Display| CliError::BadInput(e.to_string());
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
            runtime.block_on(async {
                let mock = MockServer::start(config, args.listen)
                    .await
                    .map_err(|e| CliError::Run(e.to_string()))?;
                announce(out, "mock-openai", &mock.base_url())?;
                stop.drain.cancelled().await;
                stop.until_cut(mock.shutdown()).await;
                Ok(())
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
                    let mock = MockServer::start(MockConfig::default(), loopback)
                        .await
                        .map_err(|e| CliError::Run(e.to_string()))?;
                    announce(out, "mock-openai", &mock.base_url())?;
                    config.openai.providers = vec![Provider::new(mock.base_url())];
                    Some(mock)
                } else {
                    config.openai.providers = args.openai_urls.iter().map(Provider::new).collect();
                    None
                };
                config.validate().map_err(|e| bad_config(&e))?;
                let pipeline = Pipeline::start(config, args.listen)
                    .await
                    .map_err(|e| CliError::Run(e.to_string()))?;
                announce(out, "reference-pipeline", &pipeline.base_url())?;
                stop.drain.cancelled().await;
                stop.until_cut(async {
                    pipeline.shutdown().await;
                    if let Some(mock) = mock {
                        mock.shutdown().await;
                    }
                })
                .await;
                Ok(())
            })
        }
    }
}

fn announce(out: &mut dyn Write, what: &str, url: &str) -> Result<(), CliError> {
    writeln!(out, "{what} listening on {url}")?;
    out.flush()?;
    Ok(())
}
