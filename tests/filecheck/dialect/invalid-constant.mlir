// RUN: sparsec opt %s --split-input-file --verify-diagnostics
// sparsec.constant: each case is one invalid op, its error expected at it. (A resource blob
// too short for its type is found by the parser first: tests/ir/test_parse_errors.py.)

"func.func"() <{function_type = () -> tensor<f32>, sym_name = "constant_property_value_must_be"}> ({
  // expected-error @+1 {{'sparsec.constant' op property 'value' must be DenseElementsAttr or DenseResourceAttr, got 1.0 : f64}}
  %0 = "sparsec.constant"() <{value = 1.0 : f64}> : () -> tensor<f32>
  "func.return"(%0) : (tensor<f32>) -> ()
}) : () -> ()
