"""Fine-tuning: memory, time and cost of full, LoRA and QLoRA training, and managed services."""
