#include "support/status.h"

namespace hq {

const char* errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kParse: return "parse error";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kShape: return "shape error";
    case ErrorCode::kData: return "data error";
    case ErrorCode::kIo: return "I/O error";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown";
}

Status::Status(ErrorCode code, std::string message, const char* file, int line)
    : state_(std::make_shared<State>(State{code, std::move(message), file, line})) {}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

std::string Status::location() const {
  if (!state_ || !state_->file) return "";
  return fmt::format("{}:{}", state_->file, state_->line);
}

Status& Status::addContext(const std::string& prefix) & {
  if (state_) {
    auto next = std::make_shared<State>(*state_);
    next->message = prefix + ": " + next->message;
    state_ = std::move(next);
  }
  return *this;
}

}  // namespace hq
