"""Small EasyRec pipeline configs, written as text, for the converter's tests."""

from __future__ import annotations

FIELDS = """
  input_fields { input_name: "clk" input_type: INT32 }
  input_fields { input_name: "buy" input_type: INT32 }
  input_fields { input_name: "user_id" input_type: STRING }
  input_fields { input_name: "cate_id" input_type: STRING }
  input_fields { input_name: "tags" input_type: STRING }
  input_fields { input_name: "price" input_type: DOUBLE default_val: "-1" }
  input_fields { input_name: "kv" input_type: STRING }
  input_fields { input_name: "seq" input_type: STRING }
"""
FEATURES = """
  features { input_names: "user_id" feature_type: IdFeature embedding_dim: 4
             hash_bucket_size: 100 }
"""
TOWERS = """
    task_towers { tower_name: "ctr" label_name: "clk" dnn { hidden_units: [8] } }
    task_towers { tower_name: "cvr" label_name: "buy" dnn { hidden_units: [8] } }
"""


def easyrec_text(
    features: str = FEATURES,
    model: str = "",
    groups: str = 'feature_groups { group_name: "all" feature_names: "user_id" }',
    data: str = "",
    train: str = "",
    top: str = "",
) -> str:
    """An EasyRec pipeline config: SimpleMultiTask over group "all" unless `model` (the
    model_config's model_class and message) is given."""
    model = model or f'model_class: "SimpleMultiTask" simple_multi_task {{ {TOWERS} }}'
    return f"""train_input_path: "train.csv"
eval_input_path: "eval.csv"
model_dir: "model"
{top}
train_config {{
  optimizer_config {{ adam_optimizer {{ learning_rate {{ constant_learning_rate {{
    learning_rate: 0.001 }} }} }} }}
  num_steps: 10
  {train}
}}
data_config {{
  input_type: CSVInput
  batch_size: 64
  label_fields: ["clk", "buy"]
  {FIELDS}
  {data}
}}
feature_config {{ {features} }}
model_config {{
  {groups}
  {model}
}}
"""
