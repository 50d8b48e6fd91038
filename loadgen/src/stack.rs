//! The embedded stack: mock-openai and reference-pipeline started in-process on ephemeral
//! loopback ports, configured from the scenario's `[mock]` and `[pipeline]` tables. Its
//! target is the pipeline, or the mock alone (`embedded_target = "mock-openai"`).

use std::net::{Ipv4Addr, SocketAddr};

use mock_openai::{MockHandle, MockServer};
use reference_pipeline::{Pipeline, PipelineHandle, Provider};
use scenarios::{EmbeddedTarget, Scenario};

/// Mixed into the scenario's seed for the pipeline's fault draws.
const PIPELINE_FAULT_STREAM: u64 = 0x5eed_fa17;

/// The running mock and, when it is the target, the pipeline.
pub struct EmbeddedStack {
    mock: MockHandle,
    pipeline: Option<PipelineHandle>,
}

/// A part of the stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The mock did not start.
    #[error("embedded mock-openai: {0}")]
    Mock(#[from] mock_openai::StartError),
    /// The pipeline did not start.
    #[error("embedded reference-pipeline: {0}")]
    Pipeline(#[from] reference_pipeline::StartError),
}

impl EmbeddedStack {
    /// Starts the mock, then (unless the mock is the target) the pipeline pointed at it. The
    /// scenario owns `time_scale` and `seed` (validation refuses seeds of the tables' own):
    /// each table's `time_scale` is a factor on the scenario's, the mock draws from the
    /// scenario's seed and the pipeline's faults from a stream derived from it. The pipeline
    /// keeps its providers' keys but sends every call to the mock.
    pub async fn start(scenario: &Scenario) -> Result<Self, StackError> {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut mock_config = scenario.mock.clone();
        mock_config.time_scale *= scenario.time_scale;
        mock_config.seed = scenario.seed;
        let mock = MockServer::start(mock_config, loopback).await?;
        if scenario.embedded_target == EmbeddedTarget::MockOpenai {
            return Ok(Self {
                mock,
                pipeline: None,
            });
        }

        let mut config = scenario.pipeline.clone();
        config.time_scale *= scenario.time_scale;
        // Not the mock's stream: the pipeline's fault draws must not mirror its latency draws.
        config.faults.seed = scenario.seed ^ PIPELINE_FAULT_STREAM;
        let providers = &mut config.openai.providers;
        if providers.is_empty() {
            providers.push(Provider::new(mock.base_url()));
        }
        for provider in providers.iter_mut() {
            provider.base_url = mock.base_url();
        }
        let pipeline = match Pipeline::start(config, loopback).await {
            Ok(pipeline) => pipeline,
            Err(e) => {
                mock.shutdown().await;
                return Err(e.into());
            }
        };
        Ok(Self {
            mock,
            pipeline: Some(pipeline),
        })
    }

    /// The target's base URL: the pipeline's, or the mock's without `/v1` (the scenario's
    /// `request.path` names it, as OpenAI's paths do).
    pub fn target(&self) -> String {
        match &self.pipeline {
            Some(pipeline) => pipeline.base_url(),
            None => format!("http://{}", self.mock.addr()),
        }
    }

    /// The Prometheus endpoint of the server view: the pipeline's. The mock as target has
    /// none: its `mock_openai_*` metrics are not the `scan_sse_*` ones the view reads.
    pub fn metrics_url(&self) -> Option<String> {
        self.pipeline.as_ref().map(PipelineHandle::metrics_url)
    }

    /// Stops the pipeline, then the mock.
    pub async fn shutdown(self) {
        if let Some(pipeline) = self.pipeline {
            pipeline.shutdown().await;
        }
        self.mock.shutdown().await;
    }
}
