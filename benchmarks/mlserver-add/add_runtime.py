"""A custom MLServer runtime that does what EdgeInsight's `add` micro-model does: sum = a + b."""
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class AddRuntime(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        a = NumpyCodec.decode_input(payload.inputs[0])
        b = NumpyCodec.decode_input(payload.inputs[1])
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("sum", a + b)])
