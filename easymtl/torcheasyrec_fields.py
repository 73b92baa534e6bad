"""Field names of TorchEasyRec's config messages, for parse errors on fields easymtl lacks.

easymtl's schema (easymtl/protos/*.proto, package easymtl.protos) mirrors a subset of TorchEasyRec's
(tzrec/protos/*.proto, package tzrec.protos). When a config sets a field that an easymtl message
does not have, look the message's full name up here: if the field name is in the set, the error
can say it is a TorchEasyRec field that easymtl does not support, instead of only "no field named".

TORCHEASYREC_FIELDS maps the full name of each easymtl message that has a TorchEasyRec counterpart
to every field name (oneof members included) of the TorchEasyRec message of the same name
(PipelineConfig's counterpart is TorchEasyRec's top-level EasyRecConfig). easymtl messages with no
TorchEasyRec counterpart (SharedBottom, HuberLoss) have no entry. Only names were copied, from the
newest copies of alibaba/TorchEasyRec's proto files at hand (optimizer.proto: a newer fork copy
that matches upstream's LR schedulers); TorchEasyRec keeps growing, so a set may lag upstream.
"""

import logging

log = logging.getLogger("easymtl")

# DataConfig fields that only TorchEasyRec's OdpsDataset (MaxCompute tables) reads. easymtl
# reads files, so a config that sets them (TorchEasyRec's benchmark configs do, whatever
# their dataset) runs with them ignored and one info line.
ODPS_ONLY_DATA_FIELDS = ("is_orderby_partition", "odps_data_quota_name", "odps_data_compression")


def note_ignored_fields(config) -> list[str]:
    """Logs one info line naming the ODPS-only data_config fields `config` (a
    PipelineConfig) sets, which have no effect on the file datasets easymtl reads, and
    one for train_config.global_embedding_constraints (TorchRec's sharding planner's);
    returns their names."""
    ignored = []
    if config.train_config.HasField("global_embedding_constraints"):
        log.info(
            "train_config.global_embedding_constraints: TorchRec's sharding plan; easymtl "
            "places its tables itself, so it has no effect"
        )
        ignored.append("global_embedding_constraints")
    data = config.data_config
    names = [n for n in ODPS_ONLY_DATA_FIELDS if data.HasField(n)]
    if names:
        from easymtl.protos import data_pb2

        dataset = data_pb2.DatasetType.Name(data.dataset_type)
        log.info(
            "data_config.%s: OdpsDataset only; ignored for %s",
            ", ".join(names),
            dataset,
        )
    return ignored + names


TORCHEASYREC_FIELDS: dict[str, frozenset[str]] = {
    # tzrec/protos/pipeline.proto (message EasyRecConfig)
    "easymtl.protos.PipelineConfig": frozenset(
        {
            "data_config",
            "eval_config",
            "eval_input_path",
            "export_config",
            "feature_configs",
            "item_input_path",
            "model_config",
            "model_dir",
            "train_config",
            "train_input_path",
        }
    ),
    # tzrec/protos/data.proto
    "easymtl.protos.Field": frozenset({"input_name", "input_type"}),
    # tzrec/protos/data.proto
    "easymtl.protos.DataConfig": frozenset(
        {
            "batch_cost_size",
            "batch_size",
            "dataset_type",
            "delimiter",
            "drop_remainder",
            "eval_batch_size",
            "fg_encoded",
            "fg_encoded_multival_sep",
            "fg_mode",
            "fg_threads",
            "force_base_data_group",
            "hard_negative_sampler",
            "hard_negative_sampler_v2",
            "in_order",
            "input_fields",
            "input_fields_str",
            "is_orderby_partition",
            "label_fields",
            "min_batch_size",
            "negative_sample_mask_prob",
            "negative_sampler",
            "negative_sampler_v2",
            "num_workers",
            "odps_data_compression",
            "odps_data_quota_name",
            "pin_memory",
            "sample_cost_field",
            "sample_mask_prob",
            "sample_weight_fields",
            "shuffle",
            "shuffle_buffer_size",
            "tdm_sampler",
            "with_header",
        }
    ),
    # tzrec/protos/eval.proto
    "easymtl.protos.EvalConfig": frozenset({"evaluator_type", "log_step_count_steps", "num_steps"}),
    # tzrec/protos/export.proto
    "easymtl.protos.ExportConfig": frozenset(
        {
            "best_exporter_metric",
            "cuda_matmul_allow_tf32",
            "cudnn_allow_tf32",
            "export_format",
            "exporter_type",
            "metric_larger_is_better",
            "mixed_precision",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.FeatureConfig": frozenset(
        {
            "bool_mask_feature",
            "combine_feature",
            "custom_feature",
            "expr_feature",
            "id_feature",
            "kv_dot_product",
            "lookup_feature",
            "match_feature",
            "overlap_feature",
            "raw_feature",
            "sequence_bool_mask_feature",
            "sequence_combine_feature",
            "sequence_combo_feature",
            "sequence_custom_feature",
            "sequence_expr_feature",
            "sequence_kv_dot_product",
            "sequence_lookup_feature",
            "sequence_match_feature",
            "sequence_overlap_feature",
            "sequence_tokenize_feature",
            "tokenize_feature",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.IdFeature": frozenset(
        {
            "asset_dir",
            "data_type",
            "default_bucketize_value",
            "default_value",
            "dynamicemb",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "fg_value_type",
            "hash_bucket_size",
            "init_fn",
            "num_buckets",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_file",
            "vocab_list",
            "weighted",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.RawFeature": frozenset(
        {
            "autodis",
            "boundaries",
            "data_type",
            "default_value",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "init_fn",
            "mlp",
            "normalizer",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
            "value_dim",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.ComboFeature": frozenset(
        {
            "default_value",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "hash_bucket_size",
            "init_fn",
            "pooling",
            "separator",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.LookupFeature": frozenset(
        {
            "boundaries",
            "combiner",
            "default_value",
            "embedding_dim",
            "embedding_name",
            "feature_name",
            "fg_encoded_default_value",
            "hash_bucket_size",
            "init_fn",
            "key",
            "map",
            "need_discrete",
            "need_key",
            "normalizer",
            "num_buckets",
            "pooling",
            "separator",
            "use_mask",
            "value_dim",
            "value_separator",
            "vocab_dict",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.MatchFeature": frozenset(
        {
            "boundaries",
            "default_value",
            "embedding_dim",
            "embedding_name",
            "feature_name",
            "fg_encoded_default_value",
            "hash_bucket_size",
            "init_fn",
            "need_discrete",
            "nested_map",
            "normalizer",
            "num_buckets",
            "pkey",
            "pooling",
            "separator",
            "show_pkey",
            "show_skey",
            "skey",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.OverlapFeature": frozenset(
        {
            "autodis",
            "boundaries",
            "data_type",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "feature_name",
            "fg_encoded_default_value",
            "init_fn",
            "method",
            "mlp",
            "normalizer",
            "pooling",
            "query",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "title",
            "trainable",
            "use_mask",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.ExprFeature": frozenset(
        {
            "autodis",
            "boundaries",
            "data_type",
            "default_value",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "fill_missing",
            "init_fn",
            "mlp",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
            "value_dim",
            "variables",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.KvDotProduct": frozenset(
        {
            "autodis",
            "boundaries",
            "data_type",
            "default_value",
            "document",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "feature_name",
            "fg_encoded_default_value",
            "init_fn",
            "kv_delimiter",
            "mlp",
            "normalizer",
            "pooling",
            "query",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.BoolMaskFeature": frozenset(
        {
            "asset_dir",
            "data_type",
            "default_bucketize_value",
            "default_value",
            "dynamicemb",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "fg_value_type",
            "hash_bucket_size",
            "init_fn",
            "num_buckets",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_file",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.CustomFeature": frozenset(
        {
            "asset_dir",
            "autodis",
            "boundaries",
            "data_type",
            "default_bucketize_value",
            "default_value",
            "dynamicemb",
            "embedding_constraints",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "hash_bucket_size",
            "init_fn",
            "is_op_thread_safe",
            "mlp",
            "normalizer",
            "num_buckets",
            "operator_lib_file",
            "operator_name",
            "operator_params",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_fields",
            "sequence_length",
            "stub_type",
            "trainable",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_file",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.AutoDisEmbedding": frozenset(
        {
            "keep_prob",
            "num_channels",
            "temperature",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.MLPEmbedding": frozenset(),
    # tzrec/protos/feature.proto (message SequenceFeature)
    "easymtl.protos.SequenceFeature": frozenset(
        {"features", "sequence_delim", "sequence_length", "sequence_name", "sequence_pk"}
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.SeqFeatureConfig": frozenset({"id_feature", "raw_feature"}),
    # tzrec/protos/feature.proto
    "easymtl.protos.SequenceIdFeature": frozenset(
        {
            "default_value",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "hash_bucket_size",
            "init_fn",
            "num_buckets",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_length",
            "use_mask",
            "value_dim",
            "vocab_dict",
            "vocab_list",
            "zch",
        }
    ),
    # tzrec/protos/feature.proto
    "easymtl.protos.SequenceRawFeature": frozenset(
        {
            "boundaries",
            "default_value",
            "embedding_dim",
            "embedding_name",
            "expression",
            "feature_name",
            "fg_encoded_default_value",
            "init_fn",
            "normalizer",
            "pooling",
            "separator",
            "sequence_delim",
            "sequence_length",
            "use_mask",
            "value_dim",
        }
    ),
    # tzrec/protos/model.proto
    "easymtl.protos.SeqGroupConfig": frozenset({"feature_names", "group_name"}),
    # tzrec/protos/seq_encoder.proto
    "easymtl.protos.SeqEncoderConfig": frozenset(
        {
            "din_encoder",
            "hstu_encoder",
            "multi_window_din_encoder",
            "pooling_encoder",
            "simple_attention",
        }
    ),
    # tzrec/protos/seq_encoder.proto
    "easymtl.protos.DINEncoder": frozenset({"attn_mlp", "input", "name"}),
    # tzrec/protos/seq_encoder.proto
    "easymtl.protos.SimpleAttention": frozenset({"input", "name"}),
    # tzrec/protos/seq_encoder.proto
    "easymtl.protos.PoolingEncoder": frozenset({"input", "name", "pooling_type"}),
    # tzrec/protos/seq_encoder.proto
    "easymtl.protos.MultiWindowDINEncoder": frozenset({"attn_mlp", "input", "name", "windows_len"}),
    # tzrec/protos/loss.proto
    "easymtl.protos.LossConfig": frozenset(
        {
            "binary_cross_entropy",
            "binary_focal_loss",
            "jrc_loss",
            "l2_loss",
            "softmax_cross_entropy",
        }
    ),
    # tzrec/protos/loss.proto
    "easymtl.protos.BinaryCrossEntropy": frozenset(),
    # tzrec/protos/loss.proto
    "easymtl.protos.SoftmaxCrossEntropy": frozenset({"label_smoothing"}),
    # tzrec/protos/loss.proto
    "easymtl.protos.L2Loss": frozenset(),
    # tzrec/protos/loss.proto
    "easymtl.protos.BinaryFocalLoss": frozenset({"alpha", "gamma"}),
    # tzrec/protos/metric.proto
    "easymtl.protos.MetricConfig": frozenset(
        {
            "accuracy",
            "auc",
            "grouped_auc",
            "grouped_xauc",
            "mean_absolute_error",
            "mean_squared_error",
            "multiclass_auc",
            "recall_at_k",
            "step_decay_rate",
            "xauc",
        }
    ),
    # tzrec/protos/metric.proto
    "easymtl.protos.TrainMetricConfig": frozenset(
        {
            "accuracy",
            "auc",
            "decay_rate",
            "decay_step",
            "mean_absolute_error",
            "mean_squared_error",
            "recall_at_k",
            "xauc",
        }
    ),
    # tzrec/protos/metric.proto
    "easymtl.protos.AUC": frozenset({"thresholds"}),
    # tzrec/protos/metric.proto
    "easymtl.protos.MulticlassAUC": frozenset({"average", "thresholds"}),
    # tzrec/protos/metric.proto
    "easymtl.protos.MeanAbsoluteError": frozenset(),
    # tzrec/protos/metric.proto
    "easymtl.protos.MeanSquaredError": frozenset(),
    # tzrec/protos/metric.proto
    "easymtl.protos.Accuracy": frozenset({"threshold", "top_k"}),
    # tzrec/protos/metric.proto
    "easymtl.protos.GroupedAUC": frozenset({"grouping_key"}),
    # tzrec/protos/model.proto
    "easymtl.protos.FeatureGroupConfig": frozenset(
        {
            "embedding_name_suffix",
            "feature_names",
            "group_name",
            "group_type",
            "sequence_encoders",
            "sequence_groups",
        }
    ),
    # tzrec/protos/model.proto
    "easymtl.protos.ModelConfig": frozenset(
        {
            "dat",
            "dbmtl",
            "dc2vr",
            "dcn_v1",
            "dcn_v2",
            "deepfm",
            "dlrm",
            "dlrm_hstu",
            "dssm",
            "dssm_v2",
            "feature_groups",
            "generative_qwen",
            "hstu_match",
            "kernel",
            "losses",
            "mask_net",
            "metrics",
            "mind",
            "mmoe",
            "multi_tower",
            "multi_tower_din",
            "num_class",
            "pepnet",
            "ple",
            "prompt_generative_qwen",
            "rocket_launching",
            "sid_rqkmeans",
            "sid_rqvae",
            "simple_multi_task",
            "tdm",
            "train_metrics",
            "ultra_hstu",
            "use_pareto_loss_weight",
            "variational_dropout",
            "wide_and_deep",
            "wukong",
            "xdeepfm",
        }
    ),
    # tzrec/protos/module.proto
    "easymtl.protos.VariationalDropout": frozenset(
        {"embedding_wise_variational_dropout", "regularization_lambda"}
    ),
    # tzrec/protos/module.proto
    "easymtl.protos.MLP": frozenset(
        {"activation", "bias", "dropout_ratio", "hidden_units", "use_bn", "use_ln"}
    ),
    # tzrec/protos/module.proto
    "easymtl.protos.ExtractionNetwork": frozenset(
        {"expert_num_per_task", "network_name", "share_expert_net", "share_num", "task_expert_net"}
    ),
    # tzrec/protos/models/multi_task_rank.proto
    "easymtl.protos.SimpleMultiTask": frozenset({"task_towers"}),
    # tzrec/protos/models/multi_task_rank.proto
    "easymtl.protos.MMoE": frozenset({"expert_mlp", "gate_mlp", "num_expert", "task_towers"}),
    # tzrec/protos/models/multi_task_rank.proto
    "easymtl.protos.PLE": frozenset({"extraction_networks", "task_towers"}),
    # tzrec/protos/models/multi_task_rank.proto
    "easymtl.protos.DBMTL": frozenset(
        {"bottom_mlp", "expert_mlp", "gate_mlp", "mask_net", "num_expert", "task_towers"}
    ),
    # tzrec/protos/tower.proto
    "easymtl.protos.BayesTaskTower": frozenset(
        {
            "in_task_space_weight",
            "label_name",
            "losses",
            "metrics",
            "mlp",
            "num_class",
            "out_task_space_weight",
            "pareto_min_loss_weight",
            "relation_mlp",
            "relation_tower_names",
            "sample_weight_name",
            "task_space_indicator_label",
            "tower_name",
            "train_metrics",
            "weight",
        }
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.SparseOptimizer": frozenset(
        {
            "adadelta_optimizer",
            "adagrad_optimizer",
            "adam_optimizer",
            "constant_learning_rate",
            "cosine_annealing_learning_rate",
            "cosine_annealing_warm_restarts_learning_rate",
            "exponential_decay_learning_rate",
            "lamb_optimizer",
            "lars_sgd_optimizer",
            "linear_decay_learning_rate",
            "manual_step_learning_rate",
            "partial_rowwise_adam_optimizer",
            "partial_rowwise_lamb_optimizer",
            "rmsprop_optimizer",
            "rowwise_adagrad_optimizer",
            "sgd_optimizer",
        }
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.DenseOptimizer": frozenset(
        {
            "adadelta_optimizer",
            "adagrad_optimizer",
            "adam_optimizer",
            "adamw_optimizer",
            "constant_learning_rate",
            "cosine_annealing_learning_rate",
            "cosine_annealing_warm_restarts_learning_rate",
            "exponential_decay_learning_rate",
            "linear_decay_learning_rate",
            "manual_step_learning_rate",
            "part_optimizers",
            "rmsprop_optimizer",
            "sgd_optimizer",
        }
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.FusedSGDOptimizer": frozenset({"gradient_clipping", "lr", "max_gradient"}),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.FusedAdagradOptimizer": frozenset(
        {"gradient_clipping", "initial_accumulator_value", "lr", "max_gradient"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.FusedAdamOptimizer": frozenset(
        {"beta1", "beta2", "gradient_clipping", "lr", "max_gradient", "weight_decay"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.SGDOptimizer": frozenset(
        {"dampening", "fused", "lr", "momentum", "nesterov", "weight_decay"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.AdagradOptimizer": frozenset(
        {"eps", "fused", "initial_accumulator_value", "lr", "weight_decay"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.AdamOptimizer": frozenset(
        {"amsgrad", "beta1", "beta2", "eps", "fused", "lr", "weight_decay"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.AdamWOptimizer": frozenset(
        {"amsgrad", "beta1", "beta2", "eps", "fused", "lr", "weight_decay"}
    ),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.ConstantLR": frozenset(),
    # tzrec/protos/optimizer.proto
    "easymtl.protos.ExponentialDecayLR": frozenset(
        {
            "by_epoch",
            "decay_factor",
            "decay_size",
            "min_learning_rate",
            "staircase",
            "warmup_learning_rate",
            "warmup_size",
        }
    ),
    # tzrec/protos/tower.proto
    "easymtl.protos.TaskTower": frozenset(
        {
            "in_task_space_weight",
            "label_name",
            "losses",
            "metrics",
            "mlp",
            "num_class",
            "out_task_space_weight",
            "pareto_min_loss_weight",
            "sample_weight_name",
            "task_space_indicator_label",
            "tower_name",
            "train_metrics",
            "weight",
        }
    ),
    # tzrec/protos/train.proto
    "easymtl.protos.GradClipping": frozenset(
        {"clipping_type", "enable_global_grad_clip", "max_gradient", "norm_type"}
    ),
    # tzrec/protos/train.proto
    "easymtl.protos.TrainConfig": frozenset(
        {
            "cuda_matmul_allow_tf32",
            "cudnn_allow_tf32",
            "delta_embedding_dump_config",
            "dense_optimizer",
            "fine_tune_checkpoint",
            "fine_tune_ckpt_param_map",
            "global_embedding_constraints",
            "grad_clipping",
            "grad_scaler",
            "gradient_accumulation_steps",
            "is_profiling",
            "keep_checkpoint_max",
            "log_step_count_steps",
            "mixed_precision",
            "num_epochs",
            "num_steps",
            "save_checkpoints_epochs",
            "save_checkpoints_steps",
            "save_checkpoints_timestamp_interval",
            "save_checkpoints_timestamp_quorum",
            "save_checkpoints_timestamps",
            "sparse_optimizer",
            "tensorboard_summaries",
            "use_tensorboard",
        }
    ),
}
