#include "args.h"

#include <cmath>
#include <limits>

#include "errors.h"

namespace dmabuf {

namespace {

std::string Where(size_t index) { return "argument " + std::to_string(index); }

int64_t NumberValue(Napi::Env env, Napi::Value value, const std::string &where) {
  if (!value.IsNumber()) ThrowTypeError(env, where + " must be a number");
  // Int64Value() turns NaN into 0 and saturates huge values: an fd of NaN would become stdin.
  // Only safe integers are taken as they are.
  double number = value.As<Napi::Number>().DoubleValue();
  if (!(std::fabs(number) <= 9007199254740991.0) || number != std::trunc(number)) {
    ThrowRangeError(env, where + " must be a safe integer");
  }
  return static_cast<int64_t>(number);
}

uint64_t NonNegative(Napi::Env env, int64_t value, const std::string &where) {
  if (value < 0) ThrowRangeError(env, where + " must not be negative");
  return static_cast<uint64_t>(value);
}

}  // namespace

bool HasArg(const Napi::CallbackInfo &info, size_t index) {
  return info.Length() > index && !info[index].IsUndefined();
}

int FdArg(const Napi::CallbackInfo &info, size_t index) {
  int64_t value = NumberValue(info.Env(), info[index], Where(index));
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    ThrowRangeError(info.Env(), Where(index) + " is not an fd");
  }
  return static_cast<int>(value);
}

int64_t IntArg(const Napi::CallbackInfo &info, size_t index) {
  return NumberValue(info.Env(), info[index], Where(index));
}

uint32_t U32Arg(const Napi::CallbackInfo &info, size_t index) {
  int64_t value = NumberValue(info.Env(), info[index], Where(index));
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<uint32_t>::max()) {
    ThrowRangeError(info.Env(), Where(index) + " does not fit in 32 bits");
  }
  return static_cast<uint32_t>(value);
}

uint64_t SizeArg(const Napi::CallbackInfo &info, size_t index) {
  return NonNegative(info.Env(), IntArg(info, index), Where(index));
}

uint64_t U64Arg(const Napi::CallbackInfo &info, size_t index) {
  Napi::Value value = info[index];
  if (value.IsBigInt()) {
    bool lossless = false;
    uint64_t bits = value.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) {
      // A negative bigint that fits in int64 is taken as its two's complement bit pattern.
      int64_t signedBits = value.As<Napi::BigInt>().Int64Value(&lossless);
      if (!lossless) ThrowRangeError(info.Env(), Where(index) + " does not fit in 64 bits");
      bits = static_cast<uint64_t>(signedBits);
    }
    return bits;
  }
  if (!value.IsNumber()) ThrowTypeError(info.Env(), Where(index) + " must be a number or a bigint");
  // A number must be a safe integer like every other argument (Int64Value would take 1.5 as 1 and
  // NaN as 0); a negative one is taken as its two's complement, as a negative bigint is.
  return static_cast<uint64_t>(NumberValue(info.Env(), value, Where(index)));
}

std::string StringArg(const Napi::CallbackInfo &info, size_t index) {
  if (!info[index].IsString()) ThrowTypeError(info.Env(), Where(index) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

int64_t IntProp(Napi::Object object, const char *key, const char *where) {
  return NumberValue(object.Env(), object.Get(key), std::string(where) + "." + key);
}

uint64_t SizeProp(Napi::Object object, const char *key, const char *where) {
  std::string name = std::string(where) + "." + key;
  return NonNegative(object.Env(), NumberValue(object.Env(), object.Get(key), name), name);
}

}  // namespace dmabuf
