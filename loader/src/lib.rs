//! bomdata-loader: streams bomdata shards into training jobs.
