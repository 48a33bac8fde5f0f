//! bomdata-tokenizers: DNA and text tokenizers.
