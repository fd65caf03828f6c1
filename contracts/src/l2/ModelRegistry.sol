// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {DatanetRegistry} from "./DatanetRegistry.sol";

/// @title ModelRegistry
/// @notice Base models and the LoRA adapters fine-tuned from them on a datanet version. An adapter
/// pins what it was trained on (datanet id + version, and a manifest hash of the exact
/// contributions) and what one call costs; InferencePayments charges that price and rewards the
/// contributions of that datanet version.
/// @dev Records are owned by their registrant; there is no governance here.
contract ModelRegistry {
    /// @notice A base model as returned by `getBaseModel`.
    struct BaseModel {
        address owner;
        bytes32 weightsHash;
        string name;
        string licenseURI;
    }

    /// @notice An adapter as returned by `getAdapter`.
    struct Adapter {
        address owner;
        bool deprecated;
        uint64 datanetVersion;
        uint256 baseModelId;
        uint256 datanetId;
        uint256 pricePerCall;
        bytes32 weightsHash;
        bytes32 manifestHash;
        string uri;
    }

    /// @notice The datanets adapters are trained on.
    DatanetRegistry public immutable datanets;

    uint256 private _baseModelCount;
    uint256 private _adapterCount;
    mapping(uint256 baseModelId => BaseModel) private _baseModels;
    mapping(uint256 adapterId => Adapter) private _adapters;
    mapping(address owner => uint256[]) private _adaptersByOwner;

    /// @notice A base model was registered by `owner`.
    event BaseModelRegistered(
        uint256 indexed baseModelId, address indexed owner, bytes32 weightsHash, string name, string licenseURI
    );
    /// @notice An adapter was registered; `manifestHash` is zero when it was trained on the whole
    /// datanet version.
    event AdapterRegistered(
        uint256 indexed adapterId,
        address indexed owner,
        uint256 indexed baseModelId,
        uint256 datanetId,
        uint64 datanetVersion,
        bytes32 weightsHash,
        bytes32 manifestHash,
        uint256 pricePerCall,
        string uri
    );
    /// @notice The adapter's price per call changed.
    event PriceChanged(uint256 indexed adapterId, uint256 oldPrice, uint256 newPrice);
    /// @notice The adapter changed hands; its future owner revenue goes to `to`.
    event AdapterTransferred(uint256 indexed adapterId, address indexed from, address indexed to);
    /// @notice The adapter may no longer be settled or changed.
    event AdapterDeprecated(uint256 indexed adapterId);

    /// @notice The address is the zero address where one is required.
    error ZeroAddress();
    /// @notice The name must not be empty.
    error EmptyName();
    /// @notice The weights hash must not be zero.
    error EmptyWeightsHash();
    /// @notice No base model has this id.
    error UnknownBaseModel(uint256 baseModelId);
    /// @notice No adapter has this id.
    error UnknownAdapter(uint256 adapterId);
    /// @notice The datanet has no such version (yet).
    error UnknownDatanetVersion(uint256 datanetId, uint64 datanetVersion);
    /// @notice Only the adapter's owner may do this.
    error NotAdapterOwner(uint256 adapterId, address account);
    /// @notice The adapter is deprecated: it can no longer be changed.
    error AdapterIsDeprecated(uint256 adapterId);

    /// @param datanets_ The DatanetRegistry whose versions adapters refer to.
    constructor(DatanetRegistry datanets_) {
        if (address(datanets_) == address(0)) revert ZeroAddress();
        datanets = datanets_;
    }

    /// @notice Register a base model owned by the caller.
    /// @param name Human-readable name, e.g. "Qwen2.5-0.5B-Instruct" (non-empty).
    /// @param weightsHash Hash of the weights files (non-zero).
    /// @param licenseURI Where the model's licence is.
    /// @return baseModelId The new id (ids start at 1).
    function registerBaseModel(string calldata name, bytes32 weightsHash, string calldata licenseURI)
        external
        returns (uint256 baseModelId)
    {
        if (bytes(name).length == 0) revert EmptyName();
        if (weightsHash == bytes32(0)) revert EmptyWeightsHash();
        baseModelId = ++_baseModelCount;
        _baseModels[baseModelId] = BaseModel(msg.sender, weightsHash, name, licenseURI);
        emit BaseModelRegistered(baseModelId, msg.sender, weightsHash, name, licenseURI);
    }

    /// @notice Register an adapter owned by the caller, fine-tuned from a base model on a
    /// published datanet version.
    /// @param baseModelId The base model (must exist; anyone's).
    /// @param datanetId The datanet it was trained on.
    /// @param datanetVersion The version it was trained on (1..latestVersion).
    /// @param weightsHash Hash of the adapter weights (non-zero).
    /// @param uri Where the adapter weights can be fetched.
    /// @param pricePerCall What one inference costs, in wei (may be zero).
    /// @param manifestHash `keccak256(abi.encodePacked(uint256[] contributionIds))` of the exact,
    /// ascending contribution ids trained on; zero means the whole version.
    /// @return adapterId The new id (ids start at 1).
    function registerAdapter(
        uint256 baseModelId,
        uint256 datanetId,
        uint64 datanetVersion,
        bytes32 weightsHash,
        string calldata uri,
        uint256 pricePerCall,
        bytes32 manifestHash
    ) external returns (uint256 adapterId) {
        if (_baseModels[baseModelId].owner == address(0)) revert UnknownBaseModel(baseModelId);
        if (weightsHash == bytes32(0)) revert EmptyWeightsHash();
        if (datanetVersion == 0 || datanetVersion > datanets.latestVersion(datanetId)) {
            revert UnknownDatanetVersion(datanetId, datanetVersion);
        }
        adapterId = ++_adapterCount;
        Adapter storage a = _adapters[adapterId];
        a.owner = msg.sender;
        a.datanetVersion = datanetVersion;
        a.baseModelId = baseModelId;
        a.datanetId = datanetId;
        a.pricePerCall = pricePerCall;
        a.weightsHash = weightsHash;
        a.manifestHash = manifestHash;
        a.uri = uri;
        _adaptersByOwner[msg.sender].push(adapterId);
        emit AdapterRegistered(
            adapterId,
            msg.sender,
            baseModelId,
            datanetId,
            datanetVersion,
            weightsHash,
            manifestHash,
            pricePerCall,
            uri
        );
    }

    /// @notice Change what one call of the adapter costs (adapter owner only, not deprecated).
    /// Settlements use the price current at settlement time.
    /// @param adapterId The adapter.
    /// @param pricePerCall The new price in wei.
    function setPrice(uint256 adapterId, uint256 pricePerCall) external {
        Adapter storage a = _ownedActive(adapterId);
        emit PriceChanged(adapterId, a.pricePerCall, pricePerCall);
        a.pricePerCall = pricePerCall;
    }

    /// @notice Give the adapter (and its future owner revenue) to `newOwner` (adapter owner only).
    /// @param adapterId The adapter.
    /// @param newOwner The new owner (non-zero).
    function transferAdapter(uint256 adapterId, address newOwner) external {
        Adapter storage a = _ownedActive(adapterId);
        if (newOwner == address(0)) revert ZeroAddress();
        a.owner = newOwner;
        _adaptersByOwner[newOwner].push(adapterId);
        emit AdapterTransferred(adapterId, msg.sender, newOwner);
    }

    /// @notice Retire the adapter for good (adapter owner only): it can no longer be settled,
    /// repriced or transferred.
    /// @param adapterId The adapter.
    function deprecate(uint256 adapterId) external {
        Adapter storage a = _ownedActive(adapterId);
        a.deprecated = true;
        emit AdapterDeprecated(adapterId);
    }

    /// @notice How many base models exist; their ids are 1..baseModelCount.
    /// @return The count.
    function baseModelCount() external view returns (uint256) {
        return _baseModelCount;
    }

    /// @notice How many adapters exist; their ids are 1..adapterCount.
    /// @return The count.
    function adapterCount() external view returns (uint256) {
        return _adapterCount;
    }

    /// @notice One base model.
    /// @param baseModelId The base model.
    /// @return The record.
    function getBaseModel(uint256 baseModelId) external view returns (BaseModel memory) {
        BaseModel storage m = _baseModels[baseModelId];
        if (m.owner == address(0)) revert UnknownBaseModel(baseModelId);
        return m;
    }

    /// @notice One adapter.
    /// @param adapterId The adapter.
    /// @return The record.
    function getAdapter(uint256 adapterId) external view returns (Adapter memory) {
        return _adapter(adapterId);
    }

    /// @notice Adapters that `owner` registered or received, in that order; an id stays listed
    /// after the adapter is transferred away (check `getAdapter(id).owner`).
    /// @param owner The account.
    /// @return The adapter ids.
    function adaptersOf(address owner) external view returns (uint256[] memory) {
        return _adaptersByOwner[owner];
    }

    /// @notice What a settlement needs to know about an adapter, in one call. Never reverts:
    /// an unknown adapter has the zero owner.
    /// @param adapterId The adapter.
    /// @return owner Receives the owner share (zero for an unknown adapter).
    /// @return pricePerCall The fee of one inference.
    /// @return datanetId The datanet whose contributions may be rewarded.
    /// @return datanetVersion Rewarded contributions must be approved in this version or earlier.
    /// @return deprecated Whether settlement must be refused.
    function settlementInfo(uint256 adapterId)
        external
        view
        returns (
            address owner,
            uint256 pricePerCall,
            uint256 datanetId,
            uint64 datanetVersion,
            bool deprecated
        )
    {
        Adapter storage a = _adapters[adapterId];
        return (a.owner, a.pricePerCall, a.datanetId, a.datanetVersion, a.deprecated);
    }

    function _adapter(uint256 adapterId) private view returns (Adapter storage a) {
        a = _adapters[adapterId];
        if (a.owner == address(0)) revert UnknownAdapter(adapterId);
    }

    function _ownedActive(uint256 adapterId) private view returns (Adapter storage a) {
        a = _adapter(adapterId);
        if (a.owner != msg.sender) revert NotAdapterOwner(adapterId, msg.sender);
        if (a.deprecated) revert AdapterIsDeprecated(adapterId);
    }
}
