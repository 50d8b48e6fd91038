//! `reference-pipeline`: serves the scan chain until a stop signal (SIGINT, SIGTERM, SIGHUP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use reference_pipeline::{PipelineConfig, Provider};

/// The Eco² scan chain as an SSE service, against OpenAI-compatible upstreams.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// TOML file with the pipeline configuration (the fields of a scenario's `[pipeline]`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8080/v1); repeat for several
    /// providers. Replaces the configured providers.
    #[arg(long = "openai-url", value_name = "URL")]
    openai_urls: Vec<String>,
    /// API key for the providers given with --openai-url.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    openai_key: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => match PipelineConfig::from_toml_file(path) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => PipelineConfig::default(),
    };
    if !args.openai_urls.is_empty() {
        config.openai.providers = args
            .openai_urls
            .iter()
            .map(|url| Provider {
                api_key: args.openai_key.clone(),
                ..Provider::new(url)
            })
            .collect();
    }
    if let Err(e) = config.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let announce = |pipeline: &reference_pipeline::PipelineHandle| {
        println!("reference-pipeline listening on {}", pipeline.base_url());
    };
    match reference_pipeline::serve_until_signal(config, args.listen, announce).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
